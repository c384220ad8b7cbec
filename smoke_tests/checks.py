"""Steps several tests share; each fails the test with the cause an operator can act on."""

from __future__ import annotations

from typing import Any

from smoke_tests.agent_client import NO_BODY, AgentClient, AgentUnreachable, Answer
from smoke_tests.promises import broken

KEY_REJECTED = (
    "the agent rejected the backend key with HTTP {status}: it checks a different token than "
    "the one in BACKEND_TO_DTMA_API_KEY (the backend's refresh would get {status} and the "
    "frontend show HTTP 500) — compare the agent's env file with the backend's secret"
)


def answer_or_fail(agent: AgentClient, method: str, path: str, **kwargs: Any) -> Answer:
    """Send the request; an unreachable agent fails the test with the likely cause."""
    try:
        return agent.call(method, path, **kwargs)
    except AgentUnreachable as exc:
        reason = str(exc)
    broken(reason)  # outside the except: the report shows the cause alone, not a chain


def keyed_answer_or_fail(
    agent: AgentClient, method: str, path: str, body: Any = None, timeout: float | None = None
) -> Answer:
    try:
        return agent.with_key(method, path, body, timeout)
    except AgentUnreachable as exc:
        reason = str(exc)
    broken(reason)


def server_error(answer: Answer) -> str:
    return f"the agent is failing: {answer.brief()}"


def accepted_with_key(answer: Answer, expectation: str = "expected HTTP 200") -> None:
    """The backend's key must get a 200; otherwise say whether it was refused or failed."""
    if answer.status in (401, 403):
        broken(KEY_REJECTED.format(status=answer.status))
    if answer.status >= 500:
        broken(server_error(answer))
    if answer.status != 200:
        broken(f"{expectation}: {answer.brief()}")


def authenticated_status(agent: AgentClient) -> dict[str, Any]:
    """`GET /status` as the backend sends it, parsed; anything else fails with its cause."""
    answer = keyed_answer_or_fail(agent, "GET", "/status")
    accepted_with_key(answer)
    body = answer.json()
    if not isinstance(body, dict):
        kind = "not JSON" if body is NO_BODY else f"JSON {type(body).__name__}"
        broken(f"the /status body is {kind}, the backend needs an object: {answer.brief()}")
    return body


def version_of(body: dict[str, Any]) -> Any:
    """What the backend records as dtma_last_known_version."""
    return body.get("version") or body.get("dtma_version")
