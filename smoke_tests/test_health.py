"""Promise: the agent is up and quick — what every caller needs first."""

from __future__ import annotations

import pytest

from smoke_tests.agent_client import AgentClient
from smoke_tests.checks import answer_or_fail, server_error
from smoke_tests.promises import broken
from smoke_tests.settings import SmokeSettings

pytestmark = pytest.mark.promise("health")


# /status without credentials is what the backend's console panel calls.
@pytest.mark.parametrize("path", ["/health", "/status"])
def test_answers_200_within_the_latency_budget(
    agent: AgentClient, settings: SmokeSettings, path: str
) -> None:
    answer = answer_or_fail(agent, "GET", path)
    if answer.status >= 500:
        broken(server_error(answer))
    if answer.status != 200:
        broken(f"expected HTTP 200: {answer.brief()}")
    if not answer.is_json:
        broken(
            f"wrong content type {answer.content_type or 'none'!r} on {path}, expected "
            "application/json — is another service (a proxy, a default page) on this port?"
        )
    if answer.seconds > settings.latency_budget:
        broken(
            f"GET {path} took {answer.seconds:.2f} s, over the "
            f"{settings.latency_budget:g} s latency budget (--latency-budget)"
        )
