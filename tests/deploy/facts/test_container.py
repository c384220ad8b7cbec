"""ContainerState: `docker container inspect` read once, into the fields the steps decide on."""

import json

from tasks.facts.container import ContainerState, parse_inspect

INSPECT = {
    "Id": "c0ffee",
    "Name": "/dtma",
    "Image": "sha256:" + "a" * 64,
    "RestartCount": 2,
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
    )
    assert state.version == "abc1234"
    assert state.started_timestamp() == 1795852800.0


def test_a_container_not_ours_or_without_health():
    bare = ContainerState.from_inspect({"State": {"Running": False, "ExitCode": 1}})
    assert (bare.version, bare.health, bare.healthcheck, bare.running) == ("", "none", (), False)
    assert parse_inspect("[]") is None and parse_inspect("not json") is None
