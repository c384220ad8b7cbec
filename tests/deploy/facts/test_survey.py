"""The one-round-trip host survey: its script run in a real local shell (no Docker needed),
its answer parsed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from tasks import identity
from tasks.commands import scripts
from tasks.facts import survey
from tests.support.local_shell import fake_docker
from tests.support.local_shell import run_with_path as run_sh

PORTS = (30000, 30001)
IMAGE = "sha256:" + "a" * 64
ENV_SHA = "b" * 64
INSPECTED = {
    "RootFS": {"Type": "layers", "Layers": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
    "Config": {"Cmd": ["python3", "-m", "dtma"], "Env": ["PORT=30000"]},
    "Os": "linux",
    "Architecture": "amd64",
}
FP = identity.fingerprint(INSPECTED)
TARGET = f"{IMAGE} {json.dumps(INSPECTED)}"


def answer(**overrides: str) -> str:
    values = {
        "docker": "20.10.24",
        "running": f"{IMAGE} true dtma:abc1234 host healthy",
        "target": TARGET,
        "env": ENV_SHA,
        "store": 'overlay2|[["Backing Filesystem","extfs"]]',
        "machine": "x86_64",
        "lock": "",
        "free": "2048",
        "publish30000": "dtma ",
        "listen30000": "1",
        "publish30001": "",
        "listen30001": "0",
        **overrides,
    }
    return "".join(f"{key}={value}\n" for key, value in values.items())


def test_parse_reads_every_field():
    found = survey.parse_survey(answer(), PORTS)
    assert found.docker_version == "20.10.24"
    assert (found.running_image_id, found.running, found.running_ref) == (
        IMAGE,
        True,
        "dtma:abc1234",
    )
    assert found.health == "healthy" and found.target_image_id == IMAGE
    assert found.target_fingerprint == FP
    assert (found.image_store, found.platform) == ("classic", "linux/amd64")
    assert found.network_mode == "host"
    assert found.env_sha256 == ENV_SHA and found.lock_owner == ""
    assert found.free_bytes == 2048 * 1024
    assert found.publishers == {30000: ["dtma"], 30001: []}
    assert found.listeners == {30000: True, 30001: False}


def test_parse_of_a_host_without_agent_or_env_file():
    found = survey.parse_survey(answer(running="", target="", env="", free=""), PORTS)
    assert not found.running and found.running_image_id == "" and found.running_ref == ""
    assert found.free_bytes is None
    assert found.target_fingerprint == ""
    assert not found.up_to_date(FP, ENV_SHA)


def test_a_containerd_store_host_is_told_apart():
    store = 'overlayfs|[["driver-type","io.containerd.snapshotter.v1"]]'
    found = survey.parse_survey(answer(store=store, machine="aarch64"), PORTS)
    assert (found.image_store, found.platform) == ("containerd", "linux/arm64")


def test_up_to_date_needs_same_image_same_env_running_and_not_unhealthy():
    assert survey.parse_survey(answer(), PORTS).up_to_date(FP, ENV_SHA)
    assert survey.parse_survey(answer(running=f"{IMAGE} true dtma:x"), PORTS).up_to_date(
        FP, ENV_SHA
    )  # an image without HEALTHCHECK
    other = "sha256:" + "c" * 64
    other_fp = identity.fingerprint({**INSPECTED, "Architecture": "arm64"})
    not_up_to_date = [
        (answer(), other_fp, ENV_SHA),  # another image was built
        (answer(), FP, "d" * 64),  # another env file
        (answer(running=f"{IMAGE} false dtma:x host healthy"), FP, ENV_SHA),  # stopped
        (answer(running=f"{IMAGE} true dtma:x host unhealthy"), FP, ENV_SHA),
        (answer(target=TARGET.replace(IMAGE, other)), FP, ENV_SHA),  # it runs another image
        (answer(env=""), FP, ""),
        (answer(running="", target=""), "", ENV_SHA),
    ]
    for text, image, env_sha in not_up_to_date:
        assert not survey.parse_survey(text, PORTS).up_to_date(image, env_sha), text


def survey_argv(tmp_path: Path) -> list[str]:
    return scripts.survey(
        container="dtma",
        image_ref="dtma:abc1234",
        env_file=str(tmp_path / "dtma.env"),
        lock_dir=str(tmp_path / "lock"),
        ports=PORTS,
    )


def test_survey_without_docker_exits_127_saying_so(tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("sh", "cat", "cut", "sha256sum", "df", "awk", "tr", "wc"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    done = run_sh(survey_argv(tmp_path), str(tools))
    assert done.returncode == 127 and scripts.NO_DOCKER in done.stderr


def test_survey_reads_env_sha_and_lock_owner_from_the_files(tmp_path):
    (tmp_path / "dtma.env").write_text("A=1\n")
    (tmp_path / "lock").mkdir()
    path = fake_docker(tmp_path / "bin")
    found = survey.parse_survey(run_sh(survey_argv(tmp_path), path).stdout, PORTS)
    assert found.docker_version == ""  # the engine does not answer: the check refuses
    assert found.env_sha256 == hashlib.sha256(b"A=1\n").hexdigest()
    assert found.lock_owner == scripts.UNKNOWN_OWNER  # a lock directory without owner file
    (tmp_path / "lock" / "owner").write_text('{"user": "u"}\n')
    found = survey.parse_survey(run_sh(survey_argv(tmp_path), path).stdout, PORTS)
    assert found.lock_owner == '{"user": "u"}'
    assert found.free_bytes is not None and found.free_bytes > 0
    assert found.publishers == {30000: [], 30001: []}


def test_survey_names_running_and_restarting_containers_by_the_ports_they_claim(tmp_path):
    """A crash-looping container holds its port between restarts, yet `docker ps --filter
    publish` does not list it: claims are read from every live container's port bindings."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "docker").write_text(
        "#!/bin/sh\n"
        'case "$1 $2" in\n'
        '  "ps -q") echo id1; echo id2 ;;\n'
        '  "inspect --format") echo "/dtma_manager 30000"; echo "/other 8080 30001x" ;;\n'
        "  *) exit 1 ;;\n"
        "esac\n"
    )
    (folder / "docker").chmod(0o755)
    path = f"{folder}:{os.environ['PATH']}"
    found = survey.parse_survey(run_sh(survey_argv(tmp_path), path).stdout, PORTS)
    assert found.publishers == {30000: ["dtma_manager"], 30001: []}
