"""What the agent learns about its own container, and its sibling releases, from the Docker
engine (through the mounted socket). Standard library only: used before the port answers.

A release is "promoted" when its container's restart policy is `always` or `unless-stopped`: the
deploy tool starts a candidate with `--restart no` and promotes it with `docker update --restart
always` (+ SIGUSR1). After a droplet reboot the engine restarts only promoted releases, and the
agent must tell from that alone whether to serve the public port.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dtma.tool_views import MANAGED_BY

PROMOTED_POLICIES = frozenset({"always", "unless-stopped"})
ROLE_LABEL, ROLE_AGENT = "dtma.role", "agent"
DEPLOYED_AT_LABEL = "dtma.deployed_at"
# Optional: releases compare themselves only with containers of the same group (absent = absent).
# The deploy tool need not set it; tests sharing one engine do, to keep out of each other's way.
GROUP_LABEL = "dtma.group"
DEFAULT_SOCKET = "/var/run/docker.sock"
TIMEOUT_SECONDS = 5.0

# Docker bind-mounts /etc/hostname, /etc/hosts and /etc/resolv.conf from
# /var/lib/docker/containers/<id>/ (the path's root may differ when /var/lib/docker is a mount).
_MOUNTINFO_ID = re.compile(r"/containers/([0-9a-f]{64})/")
# cgroup v1: ".../docker/<id>"; systemd driver: ".../docker-<id>.scope".
_CGROUP_ID = re.compile(r"docker[-/]([0-9a-f]{64})(?:\.scope)?$")


class DockerUnavailable(RuntimeError):
    """The engine could not be asked (no socket, refused, an error answer)."""


def own_container_id(proc: Path = Path("/proc/self")) -> str | None:
    """This process's container id, or None when it cannot be found (not in a container)."""
    for name, pattern in (("mountinfo", _MOUNTINFO_ID), ("cgroup", _CGROUP_ID)):
        try:
            lines = (proc / name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            found = pattern.search(line.strip())
            if found:
                return found.group(1)
    return None


def socket_path(env: Mapping[str, str] = os.environ) -> str:
    host = env.get("DOCKER_HOST", "")
    return host.removeprefix("unix://") if host.startswith("unix://") else DEFAULT_SOCKET


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DockerEngine:
    """The few Docker API calls the agent makes before its Docker SDK is loaded."""

    def __init__(self, path: str | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        self.path, self.timeout = path or socket_path(), timeout

    def _call(self, method: str, url: str, body: Any = None) -> Any:
        connection = _UnixHTTPConnection(self.path, self.timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload else {}
            connection.request(method, url, body=payload, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except OSError as exc:
            raise DockerUnavailable(f"Docker engine at {self.path}: {exc}") from None
        finally:
            connection.close()
        if answer.status >= 300:
            text = data.decode(errors="replace").strip()[:200]
            raise DockerUnavailable(f"{method} {url}: HTTP {answer.status} {text}")
        return json.loads(data) if data else None

    def inspect(self, container_id: str) -> dict[str, Any]:
        return self._call("GET", f"/containers/{quote(container_id)}/json")

    def agent_ids(self) -> list[str]:
        filters = quote(json.dumps({"label": [f"{ROLE_LABEL}={ROLE_AGENT}"]}))
        listed = self._call("GET", f"/containers/json?all=1&filters={filters}")
        return [item["Id"] for item in listed]

    def set_restart_policy(self, container_id: str, name: str) -> None:
        body = {"RestartPolicy": {"Name": name}}
        self._call("POST", f"/containers/{quote(container_id)}/update", body)


def parse_time(text: str) -> datetime | None:
    """ISO 8601 as Docker and the deploy tool write it ("...Z", up to nanoseconds), in UTC."""
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text)
    if not found:
        return None
    whole, fraction, zone = found.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else zone
    stamp = f"{whole}.{micros}{offset}"
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Release:
    """One agent container as the reconcile sees it."""

    id: str
    name: str
    restart_policy: str
    deployed_at: datetime
    group: str = ""
    # A container the agent made for a tool: its image's labels may say anything (`dtma.role`
    # included), the tool label set at create time says what it is.
    tool: bool = False

    @property
    def promoted(self) -> bool:
        return self.restart_policy in PROMOTED_POLICIES

    @property
    def release(self) -> bool:
        """What the deploy made: an agent release, never a tool dressed as one (the agent sets
        the tool label at create time, over anything its image says)."""
        return not self.tool

    @classmethod
    def from_inspect(cls, info: Mapping[str, Any]) -> Release:
        labels = (info.get("Config") or {}).get("Labels") or {}
        policy = ((info.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
        when = parse_time(labels.get(DEPLOYED_AT_LABEL, "")) or parse_time(info.get("Created", ""))
        return cls(
            id=info["Id"],
            name=str(info.get("Name", "")).lstrip("/"),
            restart_policy=policy,
            deployed_at=when or datetime.min.replace(tzinfo=UTC),
            group=labels.get(GROUP_LABEL, ""),
            tool=MANAGED_BY in labels,
        )


def newer_promoted_release(me: Release, others: list[Release]) -> Release | None:
    """The newest other promoted release of my group that is newer than me, if any.

    "Newer": later deployed_at (label, else Created); equal times are ordered by id, so of any
    two promoted releases exactly one finds the other newer."""
    rivals = [
        other
        for other in others
        if other.id != me.id
        and other.release
        and other.promoted
        and other.group == me.group
        and (other.deployed_at, other.id) > (me.deployed_at, me.id)
    ]
    return max(rivals, key=lambda r: (r.deployed_at, r.id), default=None)
