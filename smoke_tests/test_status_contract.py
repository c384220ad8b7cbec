"""Promise: /status carries what the backend reads: the refresh (with the backend key) and the
tool list (without credentials)."""

from __future__ import annotations

import pytest

from smoke_tests.agent_client import AgentClient
from smoke_tests.checks import answer_or_fail, authenticated_status
from smoke_tests.promises import broken
from smoke_tests.status_contract import contract_diff, public_contract_diff, unhealthy_reason

pytestmark = pytest.mark.promise("status-contract")


def test_status_carries_what_the_backend_refresh_reads(agent: AgentClient) -> None:
    diff = contract_diff(authenticated_status(agent))
    if diff:
        broken(
            "GET /status (with the backend key) departs from what the backend's refresh "
            "reads:\n" + "\n".join(f"    {line}" for line in diff)
        )


def test_status_says_healthy(agent: AgentClient) -> None:
    body = authenticated_status(agent)
    if body.get("status") != "healthy":
        broken(f"/status says {body.get('status')!r}, not 'healthy' — {unhealthy_reason(body)}")


def test_public_status_carries_what_the_backend_tool_list_reads(agent: AgentClient) -> None:
    answer = answer_or_fail(agent, "GET", "/status")
    if answer.status != 200:
        broken(f"the backend's tool list calls /status without credentials: {answer.brief()}")
    diff = public_contract_diff(answer.json())
    if diff:
        broken(
            "GET /status (without credentials) departs from what the backend's tool list "
            "reads:\n" + "\n".join(f"    {line}" for line in diff)
        )
