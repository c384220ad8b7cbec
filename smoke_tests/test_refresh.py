"""Promise: the frontend's "refresh status" succeeds and shows the toolbox active.

With --refresh-url and --user-jwt the suite presses the button itself (POST to the backend).
Without them it does what the backend does: one GET /status with the backend key, no retry,
the same parse rules, and checks the refresh would succeed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from smoke_tests.agent_client import AgentClient, AgentUnreachable, bearer
from smoke_tests.backend_refresh import (
    RefreshOutcome,
    refresh_from_answer,
    refresh_from_network_error,
)
from smoke_tests.checks import authenticated_status, version_of
from smoke_tests.promises import broken, clip
from smoke_tests.settings import SmokeSettings

pytestmark = pytest.mark.promise("refresh")

HEARTBEAT_FRESHNESS_SECONDS = 60


def emulate_backend_refresh(agent: AgentClient) -> RefreshOutcome:
    try:
        answer = agent.with_key("GET", "/status")
    except AgentUnreachable as exc:
        return refresh_from_network_error(str(exc))
    return refresh_from_answer(answer.status, answer.text)


def test_frontend_refresh_marks_the_toolbox_active(
    agent: AgentClient, settings: SmokeSettings
) -> None:
    if settings.refresh_url and settings.user_jwt:
        check_through_the_backend(agent, settings, settings.refresh_url, settings.user_jwt)
    else:
        check_as_the_backend_would(agent)


def check_as_the_backend_would(agent: AgentClient) -> None:
    outcome = emulate_backend_refresh(agent)
    if not outcome.succeeded:
        broken(f'the frontend would show HTTP 500 {{"error": "{outcome.error}"}}')
    if not outcome.version:
        broken("the refresh would succeed but record no DTMA version (no version/dtma_version)")


def check_through_the_backend(
    agent: AgentClient, settings: SmokeSettings, url: str, user_jwt: str
) -> None:
    try:
        resp = requests.post(url, headers=bearer(user_jwt), json={}, timeout=settings.timeout * 3)
    except requests.RequestException as exc:
        broken(f"cannot reach the backend at {url}: {type(exc).__name__}")
    body = _json(resp)
    if resp.status_code != 200:
        said = body.get("error") if isinstance(body, dict) else clip(resp.text)
        broken(
            f'the frontend would show HTTP {resp.status_code}: the backend says "{said}". '
            f"Why: {why_the_backend_failed(agent)}"
        )
    if not isinstance(body, dict):
        broken(f"the backend answered 200 without a toolbox row: {clip(resp.text)}")
    expected_version = version_of(authenticated_status(agent))
    problems = row_problems(body, expected_version, datetime.now(UTC))
    if problems:
        broken("the refreshed toolbox row is wrong: " + "; ".join(problems))


def row_problems(row: dict[str, Any], version: Any, now: datetime) -> list[str]:
    problems = []
    if row.get("status") != "active":
        problems.append(f"status is {row.get('status')!r}, not 'active'")
    if row.get("dtma_last_known_version") != version:
        problems.append(
            f"dtma_last_known_version is {row.get('dtma_last_known_version')!r}, "
            f"the agent says {version!r}"
        )
    try:
        beat = datetime.fromisoformat(str(row.get("last_heartbeat_at")))
        age = (now - (beat if beat.tzinfo else beat.replace(tzinfo=UTC))).total_seconds()
    except ValueError:
        problems.append(f"last_heartbeat_at {row.get('last_heartbeat_at')!r} is not a timestamp")
    else:
        if abs(age) > HEARTBEAT_FRESHNESS_SECONDS:
            problems.append(f"last_heartbeat_at is {age:.0f} s old, not within the last minute")
    return problems


def why_the_backend_failed(agent: AgentClient) -> str:
    outcome = emulate_backend_refresh(agent)
    if not outcome.succeeded:
        return f"asked the same way from here: {outcome.error}"
    return (
        "the agent answers this suite with the same key, so the backend does not reach it: "
        "check the toolbox's public_ip_address, that port 30000 is open to the backend, and "
        "that the backend's BACKEND_TO_DTMA_API_KEY is the key given here"
    )


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None
