"""Canned host answers for the step tests (what `docker inspect`, the survey and the settle
probe print), and settings that keep the checks fast."""

from __future__ import annotations

import json

from tasks.facts.container import RELEASED_LABEL
from tasks.runner import CommandResult
from tasks.settings import DeploySettings
from tests.support.fake_remote import result

KEY = "key-unit-5d1c0b9a8f7e6d5c4b3a2918"
IMAGE_ID = "sha256:" + "a" * 64


def settings(agent_url: str, **overrides) -> DeploySettings:
    fast = {"settle_seconds": 0.01, "health_timeout": 1.0, "verify_timeout": 3.0}
    return DeploySettings(verify_url=agent_url, **{**fast, **overrides}).with_backend_key(KEY)


def container(
    name: str,
    *,
    version: str = "v1",
    running: bool = True,
    restarts: int = 0,
    handover: bool = False,
    labels: dict | None = None,
) -> dict:
    """A container as `docker inspect` shows it: one of our releases by default (`handover`: of
    the kind that shares its port on the host's network); `labels` replace ours (not ours)."""
    ours = {
        "dtma.version": version,
        RELEASED_LABEL: "then",
        **({"dtma.handover": "reuseport"} if handover else {}),
    }
    return {
        "Name": f"/{name}",
        "Id": f"id-{name}",
        "Image": IMAGE_ID,
        "RestartCount": restarts,
        "HostConfig": {
            "NetworkMode": "host" if handover else "default",
            "RestartPolicy": {"Name": "unless-stopped" if running else "no"},
        },
        "Config": {"Image": f"dtma:{version}", "Labels": ours if labels is None else labels},
        "State": {"Status": "running" if running else "exited", "Running": running},
    }


def inspect_answer(name: str, **state) -> CommandResult:
    return result(json.dumps([container(name, **state)]))


NO_SUCH_CONTAINER = result("[]", exit_code=1, stderr="Error: No such container")


def settle_answer(name: str, *, healthcheck: str = "none", **state) -> CommandResult:
    restarts = state.get("restarts", 0)
    body = json.dumps([container(name, **state)])
    return result(f"restarts={restarts}\nhealthcheck={healthcheck}\n{body}")


def survey_answer(**overrides: str) -> CommandResult:
    """A fresh host by default: Docker answers, nothing of ours is there."""
    values = {
        "docker": "20.10.24",
        "running": "",
        "target": "",
        "env": "",
        "lock": "",
        "free": str(50 * 1024 * 1024),
        "publish30000": "",
        "listen30000": "0",
        "publish30001": "",
        "listen30001": "0",
        **overrides,
    }
    return result("".join(f"{key}={value}\n" for key, value in values.items()))
