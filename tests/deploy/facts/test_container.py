"""ContainerState read once from `docker container inspect`; the settle probe run and read."""

import json
import os

from tasks.commands import docker, scripts
from tasks.facts.container import ContainerState, parse_inspect, parse_settle_probe
from tests.support.local_shell import run_with_path as run_sh

INSPECT = {
    "Id": "c0ffee",
    "Name": "/dtma",
    "Image": "sha256:" + "a" * 64,
    "RestartCount": 2,
    "Created": "2026-11-28T07:59:59.5Z",
    "HostConfig": {"NetworkMode": "host", "RestartPolicy": {"Name": "unless-stopped"}},
    "State": {
        "Status": "running",
        "Running": True,
        "Restarting": False,
        "ExitCode": 0,
        "StartedAt": "2026-11-28T08:00:00.123456789Z",
        "Health": {"Status": "healthy"},
    },
    "Config": {
        "Image": "dtma:abc1234",
        "Labels": {"dtma.version": "abc1234", "dtma.deployed_by": "me@box"},
        "Healthcheck": {"Test": ["CMD-SHELL", "true"]},
    },
}


def test_every_field_the_steps_use():
    state = parse_inspect(json.dumps([INSPECT]))
    assert state == ContainerState(
        name="dtma",
        id="c0ffee",
        image_id="sha256:" + "a" * 64,
        image_ref="dtma:abc1234",
        labels={"dtma.version": "abc1234", "dtma.deployed_by": "me@box"},
        status="running",
        running=True,
        restarting=False,
        exit_code=0,
        started_at="2026-11-28T08:00:00.123456789Z",
        restart_count=2,
        health="healthy",
        healthcheck=("CMD-SHELL", "true"),
        network_mode="host",
        restart_policy="unless-stopped",
        created="2026-11-28T07:59:59.5Z",
    )
    assert state.version == "abc1234"
    assert state.started_timestamp() == 1795852800.0


def test_a_container_not_ours_or_without_health():
    bare = ContainerState.from_inspect({"State": {"Running": False, "ExitCode": 1}})
    assert (bare.version, bare.health, bare.healthcheck, bare.running) == ("", "none", (), False)
    assert parse_inspect("[]") is None and parse_inspect("not json") is None


def test_settle_probe_prints_restarts_check_result_then_state(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "docker").write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        "  *RestartCount*) echo 2 ;;\n"
        '  "container inspect dtma") echo \'[{"State": {"Running": true}, "RestartCount": 2}]\';;\n'
        "  exec*) exit 1 ;;\n"
        "esac\n"
    )
    (folder / "docker").chmod(0o755)
    path = f"{folder}:{os.environ['PATH']}"
    check = docker.healthcheck_exec("dtma", ["CMD", "false"], 3)
    out = run_sh(scripts.settle_probe("dtma", 0.1, check), path).stdout
    probe = parse_settle_probe(out)
    assert (probe.restarts_before, probe.healthcheck, probe.after) == (
        2,
        "1",
        ContainerState.from_inspect({"State": {"Running": True}, "RestartCount": 2}),
    )
    out = run_sh(scripts.settle_probe("dtma", 0.1, None), path).stdout
    assert parse_settle_probe(out).healthcheck == "none"
