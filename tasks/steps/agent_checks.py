"""Is the agent serving? HTTP checks from the deploying machine, as the backend calls it.

What /status must hold is the agent's own contract (dtma/contract.py), not a copy of it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from dtma.contract import FULL_STATUS_SCHEMA, INSTANCE_HEADER
from tasks.at_once import at_once
from tasks.errors import VerifyFailed

# A fresh connection per check, as the backend makes (through an SSH tunnel, the agent's close
# also ends that connection's relay at once).
ONE_REQUEST = {"Connection": "close"}


@dataclass(frozen=True)
class AgentReport:
    url: str
    version: str
    status: str
    instance: str = ""  # the X-DTMA-Instance it answered with ("" from an agent too old)


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
            response = requests.get(f"{url}/health", timeout=2, headers=ONE_REQUEST)
            if response.status_code == 200:
                return time.monotonic() - started
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        if time.monotonic() - started > timeout:
            raise VerifyFailed(f"{url}/health did not answer 200 within {timeout:.0f} s ({last})")
        time.sleep(poll)


def get_status(url: str, key: str | None) -> requests.Response:
    """GET /status, on a fresh connection."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    headers.update(ONE_REQUEST)
    try:
        return requests.get(f"{url}/status", headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise VerifyFailed(f"{url}/status: {type(exc).__name__}") from None


def status_body(url: str, key: str | None, asked: str) -> dict[str, Any]:
    """/status answered 200 with a JSON object, or VerifyFailed saying which call failed."""
    response = get_status(url, key)
    if response.status_code != 200:
        raise VerifyFailed(f"/status {asked} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise VerifyFailed(f"/status {asked} answered something that is not JSON") from None
    if not isinstance(body, dict) or "status" not in body:
        raise VerifyFailed(f"/status {asked} has no status field")
    return body


def check_status(url: str, backend_key: str, version: str) -> dict[str, Any]:
    """The backend's call: /status with its key, full report, the version we just shipped."""
    body = status_body(url, backend_key, "with the backend key")
    missing = [name for name in FULL_STATUS_SCHEMA["required"] if name not in body]
    if missing:
        raise VerifyFailed(f"/status lacks {', '.join(missing)} (contract fields)")
    if version and body["version"] != version:  # empty: whatever version runs (a rollback)
        raise VerifyFailed(f"/status reports version {body['version']!r}, expected {version!r}")
    if body["status"] == "misconfigured":
        raise VerifyFailed("/status says misconfigured: the agent did not get its env file")
    return body


def check_wrong_key_refused(url: str) -> str:
    """A wrong key gets 403; returns the instance id that answer carried."""
    response = get_status(url, "wrong-" + secrets.token_hex(16))
    if response.status_code != 403:
        raise VerifyFailed(
            f"/status with a wrong key answered HTTP {response.status_code}, not 403"
        )
    return response.headers.get(INSTANCE_HEADER, "")


def check_agent(
    url: str,
    *,
    backend_key: str,
    version: str,
    timeout: float,
    alive: Callable[[], None] | None = None,
    port: int | None = None,
) -> AgentReport:
    """Health, then the /status contract and version, and auth; with `port`, the agent must
    say it serves that port (checked on another one before it takes it). Health comes first:
    it waits until the port answers at all (a container just started may not listen yet)."""
    wait_for_health(url, timeout, alive=alive)
    return check_contract(url, backend_key, version, port)


def check_contract(
    url: str, backend_key: str, version: str, port: int | None = None
) -> AgentReport:
    """The keyed /status (contract, version, port served) and, beside it, a wrong key refused,
    of an agent already answering /health."""
    body, instance = at_once(
        lambda: check_status(url, backend_key, version), lambda: check_wrong_key_refused(url)
    )
    serves = (body.get("environment") or {}).get("port")
    if port is not None and serves != port:
        raise VerifyFailed(f"/status says the agent would serve port {serves}, not {port}")
    return AgentReport(url, body["version"], body["status"], instance)


def check_public(url: str, timeout: float, alive: Callable[[], None] | None = None) -> None:
    """What anyone can reach on the public port, no credentials: /health, the /status summary."""
    wait_for_health(url, timeout, alive=alive)
    status_body(url, None, f"at {url} without credentials")


def public_status(url: str) -> dict[str, Any]:
    """The unauthenticated /status summary (what `fab status` shows)."""
    return requests.get(f"{url}/status", timeout=5).json()
