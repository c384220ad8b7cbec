"""Promise: only the backend's key opens the agent; everything else is turned away cleanly."""

from __future__ import annotations

import secrets

import pytest

from dtma.contract import PUBLIC_TOOL_FIELDS
from smoke_tests.agent_client import NO_BODY, AgentClient, Answer, bearer
from smoke_tests.checks import accepted_with_key, answer_or_fail, server_error
from smoke_tests.promises import broken
from smoke_tests.settings import SmokeSettings
from smoke_tests.tokens import near_misses

pytestmark = pytest.mark.promise("auth")

PROTECTED = ["/status", "/tools"]
PRIVATE_STATUS_FIELDS = ("environment", "system_metrics")
WRONG_TOKEN = "smoke-wrong-" + secrets.token_hex(12)


def expect_rejection(answer: Answer, expected: int, presented: tuple[str, ...]) -> None:
    if 200 <= answer.status < 300:
        broken(
            f"{answer.method} {answer.path} accepted credentials it must refuse "
            f"(HTTP {answer.status}, expected {expected}): the agent accepts any token, "
            "so anyone who can reach the port can run containers"
        )
    if answer.status >= 500:
        broken(f"expected HTTP {expected}, not a server error — {server_error(answer)}")
    if answer.status != expected:
        broken(f"expected HTTP {expected}: {answer.brief()}")
    if not answer.is_json or answer.json() is NO_BODY:
        broken(f"the {expected} body is not JSON: {answer.brief()}")
    if any(token and token in answer.text for token in presented):
        broken(f"the {expected} body echoes the presented token back (it must not)")


def test_tools_without_credentials_is_401(agent: AgentClient) -> None:
    expect_rejection(answer_or_fail(agent, "GET", "/tools"), 401, ())


def test_status_without_credentials_shows_only_the_public_summary(agent: AgentClient) -> None:
    answer = answer_or_fail(agent, "GET", "/status")
    if answer.status != 200:
        broken(f"the console panel calls /status without credentials: {answer.brief()}")
    body = answer.json()
    leaked = [f for f in PRIVATE_STATUS_FIELDS if isinstance(body, dict) and f in body]
    if leaked:
        broken(f"/status without credentials shows {', '.join(leaked)}: only the public summary")
    items = body.get("tool_instances") if isinstance(body, dict) else None
    extra = {k for item in items or [] if isinstance(item, dict) for k in item} - set(
        PUBLIC_TOOL_FIELDS
    )
    if extra:
        broken(
            f"/status without credentials shows the tools' {', '.join(sorted(extra))}: "
            "only what the backend's tool list reads"
        )


@pytest.mark.parametrize("path", PROTECTED)
def test_other_scheme_is_401(agent: AgentClient, settings: SmokeSettings, path: str) -> None:
    # The right key under another scheme: an agent that ignores the scheme would let it in.
    headers = {"Authorization": f"Basic {settings.api_key}"}
    answer = answer_or_fail(agent, "GET", path, headers=headers)
    expect_rejection(answer, 401, (settings.api_key,))


@pytest.mark.parametrize("path", PROTECTED)
def test_empty_bearer_is_401(agent: AgentClient, path: str) -> None:
    answer = answer_or_fail(agent, "GET", path, headers={"Authorization": "Bearer "})
    expect_rejection(answer, 401, ())


@pytest.mark.parametrize("path", PROTECTED)
def test_wrong_bearer_is_403(agent: AgentClient, path: str) -> None:
    answer = answer_or_fail(agent, "GET", path, headers=bearer(WRONG_TOKEN))
    expect_rejection(answer, 403, (WRONG_TOKEN,))


@pytest.mark.parametrize("path", PROTECTED)
def test_backend_key_is_accepted(agent: AgentClient, settings: SmokeSettings, path: str) -> None:
    answer = answer_or_fail(agent, "GET", path, headers=bearer(settings.api_key))
    accepted_with_key(answer, "expected HTTP 200 with the backend key")


def test_near_misses_of_each_real_token_are_403(
    agent: AgentClient, settings: SmokeSettings
) -> None:
    # A length-only, prefix-only or case-blind compare accepts one of these; the real check
    # must refuse every one, exactly as it refuses a random token.
    for number, token in enumerate(settings.tokens, start=1):
        which = settings.key_source if number == 1 else "the env file's other token"
        for kind, miss in near_misses(token).items():
            answer = answer_or_fail(agent, "GET", "/tools", headers=bearer(miss))
            if 200 <= answer.status < 300:
                broken(
                    f"GET /tools accepted a near-miss of {which} ({kind}): the agent's token "
                    f"check is broken (HTTP {answer.status}, expected 403); anyone who knows "
                    "or guesses part of the key gets in"
                )
            expect_rejection(answer, 403, (miss,))
