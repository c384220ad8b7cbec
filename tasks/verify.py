"""Is the agent serving? HTTP checks from the deploying machine, container checks over SSH."""

from __future__ import annotations

import json
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from tasks import commands

STATUS_FIELDS = ("status", "service", "version", "dtma_version", "uptime_seconds")
FULL_FIELDS = ("environment", "system_metrics", "tool_instances")


class VerifyFailed(Exception):
    """One check did not pass; the message says which and what was seen."""


@dataclass(frozen=True)
class AgentReport:
    url: str
    version: str
    status: str
    health_seconds: float


def wait_for_health(
    url: str, timeout: float, poll: float = 0.1, alive: Callable[[], None] | None = None
) -> float:
    """Seconds until GET /health answered 200, or VerifyFailed after `timeout`.

    `alive` (called about once a second) raises VerifyFailed early when the container died,
    so a process that exits at start fails in seconds, not after the whole timeout.
    """
    started = last_alive = time.monotonic()
    last = "no answer"
    while True:
        if alive and time.monotonic() - last_alive >= 1.0:
            alive()
            last_alive = time.monotonic()
        try:
            response = requests.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                return time.monotonic() - started
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        if time.monotonic() - started > timeout:
            raise VerifyFailed(f"{url}/health did not answer 200 within {timeout:.0f} s ({last})")
        time.sleep(poll)


def _get_status(url: str, key: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    try:
        return requests.get(f"{url}/status", headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise VerifyFailed(f"{url}/status: {type(exc).__name__}") from None


def check_status(url: str, backend_key: str, version: str) -> dict[str, Any]:
    """The backend's call: /status with its key, full report, the version we just shipped."""
    response = _get_status(url, backend_key)
    if response.status_code != 200:
        raise VerifyFailed(f"/status with the backend key answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise VerifyFailed("/status answered something that is not JSON") from None
    missing = [name for name in (*STATUS_FIELDS, *FULL_FIELDS) if name not in body]
    if missing:
        raise VerifyFailed(f"/status lacks {', '.join(missing)} (contract fields)")
    if version and body["version"] != version:  # empty: whatever version runs (a rollback)
        raise VerifyFailed(f"/status reports version {body['version']!r}, expected {version!r}")
    if body["status"] == "misconfigured":
        raise VerifyFailed("/status says misconfigured: the agent did not get its env file")
    return body


def check_wrong_key_refused(url: str) -> None:
    response = _get_status(url, "wrong-" + secrets.token_hex(16))
    if response.status_code != 403:
        raise VerifyFailed(
            f"/status with a wrong key answered HTTP {response.status_code}, not 403"
        )


def check_agent(
    url: str,
    *,
    backend_key: str,
    version: str,
    timeout: float,
    alive: Callable[[], None] | None = None,
) -> AgentReport:
    """Health, the /status contract and version, and auth, in that order."""
    seconds = wait_for_health(url, timeout, alive=alive)
    body = check_status(url, backend_key, version)
    check_wrong_key_refused(url)
    return AgentReport(
        url=url, version=body["version"], status=body["status"], health_seconds=seconds
    )


def container_state(conn: Any, name: str) -> dict[str, Any] | None:
    """`docker container inspect` of one container, or None when it does not exist."""
    result = conn.run(shlex.join(commands.inspect(name)), hide=True, warn=True)
    if not result.ok:
        return None
    return json.loads(result.stdout)[0]


def running(conn: Any, name: str) -> Callable[[], None]:
    """A check for wait_for_health: raises VerifyFailed once the container has stopped."""

    def check() -> None:
        state = (container_state(conn, name) or {}).get("State", {})
        if not state.get("Running"):
            code = state.get("ExitCode")
            raise VerifyFailed(f"container {name} exited (code {code}) before answering /health")

    return check


def check_stable(conn: Any, name: str, settle: float) -> None:
    """Running, and not restarting over `settle` seconds: a crash loop shows up here."""
    settle_and_health(conn, name, settle)


def _parse_probe(name: str, out: str) -> tuple[int | None, str, dict[str, Any]]:
    head, _, body = out.partition("[")
    fields = dict(line.split("=", 1) for line in head.split() if "=" in line)
    try:
        state = json.loads("[" + body)[0] if body else {}
    except ValueError:
        state = {}
    if not state:
        raise VerifyFailed(f"container {name} does not exist")
    restarts = fields.get("restarts", "")
    return (int(restarts) if restarts.isdigit() else None), fields.get("healthcheck", ""), state


def settle_and_health(
    conn: Any,
    name: str,
    settle: float,
    *,
    healthcheck: tuple[str, ...] = (),
    check_timeout: float = 30.0,
    health_timeout: float = 0.0,
) -> str:
    """One round trip: the stability window (RestartCount must not grow over `settle` s) with
    the image's own HEALTHCHECK test run in the container meanwhile, instead of waiting for
    Docker's schedule. Returns the health verdict; "" when no health was asked for.

    Docker's own status still counts: `unhealthy` fails, `healthy` passes. When the test run
    here fails and Docker has no verdict yet, Docker's schedule decides (up to health_timeout).
    """
    argv = commands.healthcheck_exec(name, healthcheck, check_timeout) if healthcheck else None
    result = conn.run(commands.settle_probe(name, settle, argv), hide=True, warn=True)
    before, ran, after = _parse_probe(name, result.stdout)
    state = after.get("State", {})
    if not state.get("Running") or state.get("Restarting"):
        code = state.get("ExitCode")
        raise VerifyFailed(
            f"container {name} is not running (status {state.get('Status')}, exit {code})"
        )
    if before is None or after.get("RestartCount", 0) != before:
        raise VerifyFailed(f"container {name} restarted during {settle:.0f} s (crash loop)")
    if not health_timeout:
        return ""
    docker_says = (state.get("Health") or {}).get("Status", "none")
    if docker_says == "unhealthy":
        raise VerifyFailed(f"Docker reports container {name} unhealthy")
    if ran == "0":
        return "healthy (healthcheck run at verify)"
    if docker_says in ("healthy", "none") and ran in ("", "none"):
        return docker_says
    if docker_says == "healthy":
        return "healthy"
    return wait_docker_health(conn, name, health_timeout)


def wait_docker_health(conn: Any, name: str, timeout: float, poll: float = 1.0) -> str:
    """Docker's own verdict when the image has a HEALTHCHECK ("none" when it has none)."""
    deadline = time.monotonic() + timeout
    while True:
        state = (container_state(conn, name) or {}).get("State", {})
        health = (state.get("Health") or {}).get("Status", "none")
        if health in ("healthy", "none"):
            return health
        if health == "unhealthy":
            raise VerifyFailed(f"Docker reports container {name} unhealthy")
        if time.monotonic() > deadline:
            raise VerifyFailed(f"container {name} not healthy after {timeout:.0f} s ({health})")
        time.sleep(poll)
