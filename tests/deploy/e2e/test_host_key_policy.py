"""`fab deploy` checks the droplet's SSH host key before anything is sent: an unknown key is
refused unless trusted on first use, a changed key is refused always; and no token crosses the
network in plain HTTP; a long deploy keeps its lock fresh. The droplet is read
through this machine's Docker engine (`docker exec`), never over SSH, to see what arrived."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tasks import sandbox
from tasks.sandbox import host_keys as sandbox_host_keys
from tasks.sandbox.droplet import KNOWN_HOSTS, get_container
from tests.support.capture import eth0_capture
from tests.support.contexts import ROOT, make_context
from tests.support.deploy import ENV_TEXT, KEY, TOKEN, fab_argv
from tests.support.readiness import wait_until
from tests.support.sandboxes import sandbox_for_tests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ENV_FILE = "/etc/dtma/dtma.env"


@pytest.fixture(scope="module")
def box() -> Iterator[sandbox.Sandbox]:
    yield from sandbox_for_tests("dtma-hostkey")


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    return make_context(tmp_path_factory.mktemp("hostkey") / "v1", "host-key")


@pytest.fixture
def env_file(tmp_path) -> Path:
    path = tmp_path / "dtma.env"
    path.write_text(ENV_TEXT)
    return path


def on_droplet(box: sandbox.Sandbox, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", box.name, *argv], capture_output=True, text=True)


def deploy(box, context, env_file, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`fab deploy` with only `home`'s known_hosts (and the given flags) to go by."""
    env = {**os.environ, "HOME": str(home)}
    env.pop("DTMA_DEPLOY_KNOWN_HOSTS", None)
    argv = fab_argv(
        [box], "deploy", "--context", str(context), "--env-file", str(env_file),
        "--verify-url", box.agent_url, *extra,
    )  # fmt: skip
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_an_unknown_host_is_refused_then_trusted_on_first_use(box, context, env_file, tmp_path):
    refused = deploy(box, context, env_file, tmp_path)
    assert refused.returncode == 1, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert f"unknown SSH host key for [127.0.0.1]:{box.ssh_port} (ssh-ed25519 SHA256:" in (
        refused.stderr
    )
    assert "--accept-new-host-key" in refused.stderr
    assert on_droplet(box, "test", "-e", ENV_FILE).returncode != 0  # nothing arrived
    assert not (tmp_path / ".ssh" / "known_hosts").exists()

    accepted = deploy(box, context, env_file, tmp_path, "--accept-new-host-key")
    assert accepted.returncode == 0, accepted.stdout[-3000:] + accepted.stderr[-3000:]
    recorded = (tmp_path / ".ssh" / "known_hosts").read_text()
    assert recorded.startswith(f"[127.0.0.1]:{box.ssh_port} ssh-ed25519 ")
    assert recorded in KNOWN_HOSTS.read_text()  # the key the droplet's own files hold
    for secret in (TOKEN, KEY):
        assert secret not in accepted.stdout + accepted.stderr


def test_a_changed_host_key_is_refused_and_nothing_is_sent(box, context, env_file, tmp_path):
    ssh_dir = tmp_path / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    entry = next(
        line for line in KNOWN_HOSTS.read_text().splitlines()
        if line.startswith(f"[127.0.0.1]:{box.ssh_port} ")
    )  # fmt: skip
    (ssh_dir / "known_hosts").write_text(entry + "\n")
    before = on_droplet(box, "sha256sum", ENV_FILE).stdout
    assert before, "the first test deployed an env file"
    staged = on_droplet(box, "ls", "-A", "/var/tmp/dtma-deploy").stdout
    # The droplet is rebuilt with new host keys (or someone answers in its place).
    regenerated = on_droplet(
        box, "sh", "-c", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && "
        "kill -HUP $(cat /run/sshd.pid 2>/dev/null || pgrep -o sshd)",
    )  # fmt: skip
    assert regenerated.returncode == 0, regenerated.stderr
    try:
        rotated = env_file.parent / "rotated.env"
        rotated.write_text(ENV_TEXT.replace(TOKEN, "tok-rotated-" + uuid.uuid4().hex))
        refused = deploy(box, context, rotated, tmp_path, "--accept-new-host-key")
        assert refused.returncode == 1, refused.stdout[-2000:] + refused.stderr[-2000:]
        assert f"the SSH host key of [127.0.0.1]:{box.ssh_port} CHANGED" in refused.stderr
        assert f"ssh-keygen -R '[127.0.0.1]:{box.ssh_port}'" in refused.stderr
        assert on_droplet(box, "sha256sum", ENV_FILE).stdout == before
        assert on_droplet(box, "ls", "-A", "/var/tmp/dtma-deploy").stdout == staged
        assert (ssh_dir / "known_hosts").read_text() == entry + "\n"  # not overwritten
    finally:
        container = get_container(sandbox.docker_client(), box.name)
        sandbox_host_keys.record(KNOWN_HOSTS, container, box.ssh_port)  # the droplet's new key


def test_no_token_crosses_the_network_in_plain_http_during_a_deploy(
    box, context, env_file, tmp_path
):
    # The first test trusted the key in its own HOME; this deploy uses the sandbox's file.
    frames = tmp_path / "eth0.bin"
    rotated = tmp_path / "rotated.env"
    rotated.write_text(ENV_TEXT.replace(TOKEN, "tok-capture-" + uuid.uuid4().hex))
    with eth0_capture(box.name, frames):
        done = deploy(box, context, rotated, tmp_path, "--known-hosts", str(KNOWN_HOSTS))
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        captured = frames.read_bytes()
        # Positive control: a client that does send the key in plain HTTP is seen doing so.
        control = f"Bearer control-{uuid.uuid4().hex}"
        requests.get(f"{box.agent_url}/status", headers={"Authorization": control}, timeout=30)
        wait_until(lambda: control.encode() in frames.read_bytes() or None, "the control seen")
    assert b"GET /status" in captured and b"GET /health" in captured  # outside checks, seen
    assert KEY.encode() not in captured
    assert TOKEN.encode() not in captured and b"tok-capture-" not in captured


def test_a_long_deploy_renews_its_lock_so_force_unlock_cannot_break_it(box, context, tmp_path):
    """A full upload takes many times the lock's TTL here; a forced taker meanwhile must still
    find the lock fresh (renewed), not stale."""
    env = {
        **os.environ,
        "DTMA_DEPLOY_LOCK_TTL": "2",
        "DTMA_DEPLOY_KNOWN_HOSTS": str(KNOWN_HOSTS),
    }
    env_file = tmp_path / "dtma.env"
    env_file.write_text(ENV_TEXT)
    args = ["deploy", "--context", str(context), "--env-file", str(env_file)]
    args += ["--verify-url", box.agent_url]
    first = subprocess.Popen(
        fab_argv([box], *args, "--full", "--restart-anyway"),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(
            lambda: on_droplet(box, "test", "-d", "/var/lib/dtma-deploy/lock").returncode == 0,
            "the first deploy holding the lock",
            gave_up=lambda: None if first.poll() is None else "the first deploy ended",
        )
        time.sleep(5)  # more than twice the TTL: without renewal the lock would look stale
        owner = json.loads(on_droplet(box, "cat", "/var/lib/dtma-deploy/lock/owner").stdout)
        assert owner["renewed_at"] > owner["acquired_at"] + 2, owner  # renewed, over SSH
        assert first.poll() is None, "the first deploy ended before the forced one could try"
        forced = subprocess.run(
            fab_argv([box], *args, "--force-unlock"),
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, out[-2000:] + err[-2000:]
    assert forced.returncode != 0, forced.stdout[-2000:]
    assert "another deploy holds the lock: " in forced.stderr, forced.stderr
