"""A container as `docker container inspect` describes it, typed; and the settle probe's answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tasks.commands import docker
from tasks.runner import Remote

RELEASED_LABEL = "dtma.deployed_at"  # set by the release's `docker run`, never in an image


@dataclass(frozen=True)
class ContainerState:
    name: str = ""
    id: str = ""
    image_id: str = ""  # what it runs, sha256:…
    image_ref: str = ""  # what it was created from, e.g. dtma:abc1234
    labels: dict[str, str] = field(default_factory=dict)
    status: str = ""  # created, running, exited, …
    running: bool = False
    restarting: bool = False
    exit_code: int | None = None
    started_at: str = ""
    restart_count: int = 0
    health: str = "none"  # Docker's health status; "none" without a HEALTHCHECK
    healthcheck: tuple[str, ...] = ()  # the image's HEALTHCHECK test, e.g. ("CMD-SHELL", "…")
    network_mode: str = ""  # "host", "default", "bridge", "container:…"
    restart_policy: str = ""  # "no", "always", "unless-stopped", "on-failure"
    created: str = ""

    @property
    def version(self) -> str:
        """The agent's version, as its image or the deploy labelled it ("" when neither did)."""
        return self.labels.get("dtma.version", "")

    @property
    def released(self) -> bool:
        """A release this tool made: labelled when it ran (an image cannot carry the label)."""
        return bool(self.labels.get(RELEASED_LABEL))

    def started_timestamp(self) -> float:
        return datetime.fromisoformat(self.started_at[:19] + "+00:00").timestamp()

    @classmethod
    def from_inspect(cls, data: dict[str, Any]) -> ContainerState:
        state = data.get("State") or {}
        config = data.get("Config") or {}
        host = data.get("HostConfig") or {}
        return cls(
            name=str(data.get("Name", "")).lstrip("/"),
            id=str(data.get("Id", "")),
            image_id=str(data.get("Image", "")),
            image_ref=str(config.get("Image", "")),
            labels=dict(config.get("Labels") or {}),
            status=str(state.get("Status", "")),
            running=bool(state.get("Running")),
            restarting=bool(state.get("Restarting")),
            exit_code=state.get("ExitCode"),
            started_at=str(state.get("StartedAt", "")),
            restart_count=int(data.get("RestartCount") or 0),
            health=str((state.get("Health") or {}).get("Status", "none")),
            healthcheck=tuple((config.get("Healthcheck") or {}).get("Test") or ()),
            network_mode=str(host.get("NetworkMode", "")),
            restart_policy=str((host.get("RestartPolicy") or {}).get("Name") or "no"),
            created=str(data.get("Created", "")),
        )


def parse_inspect(text: str) -> ContainerState | None:
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return ContainerState.from_inspect(found[0]) if found else None


def read_container(remote: Remote, name: str, step: str = "inspect") -> ContainerState | None:
    """The container called `name`, or None when it does not exist."""
    result = remote.run(docker.inspect(name), step=step, check=False)
    return parse_inspect(result.stdout) if result.ok else None


@dataclass(frozen=True)
class SettleProbe:
    """What the settle probe saw: the restart count before the window, the health check's exit
    ("none" without one, "" when unknown), and the container after the window (None: gone)."""

    restarts_before: int | None
    healthcheck: str
    after: ContainerState | None


def parse_settle_probe(text: str) -> SettleProbe:
    head, _, body = text.partition("[")
    fields = dict(line.split("=", 1) for line in head.split() if "=" in line)
    restarts = fields.get("restarts", "")
    return SettleProbe(
        restarts_before=int(restarts) if restarts.isdigit() else None,
        healthcheck=fields.get("healthcheck", ""),
        after=parse_inspect("[" + body) if body else None,
    )
