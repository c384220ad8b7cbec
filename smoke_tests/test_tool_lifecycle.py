"""Promise (opt-in, --destructive): the backend can run a tool container through the agent."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from smoke_tests.agent_client import AgentClient, AgentUnreachable
from smoke_tests.checks import authenticated_status, keyed_answer_or_fail
from smoke_tests.promises import BY_NAME, broken
from smoke_tests.settings import SmokeSettings

pytestmark = pytest.mark.promise("tool-lifecycle")

# Docker work takes its time: a pull, or a stop that waits out the container's grace period.
STEP_TIMEOUT = 90.0


@pytest.fixture
def tool_names(agent: AgentClient, settings: SmokeSettings) -> Iterator[tuple[str, str]]:
    """A fresh instance name and id; whatever happens, the container is deleted afterwards."""
    if not settings.destructive:
        pytest.skip(f"not checked: enable with {BY_NAME['tool-lifecycle'].enabled_by}")
    suffix = secrets.token_hex(4)
    # A name as users type them (spaces): the backend sends it URL-encoded in the path.
    name, instance_id = f"smoke tool {suffix}", f"smoke-ati-{suffix}"
    yield name, instance_id
    with contextlib.suppress(AgentUnreachable):  # 404 when the test already deleted it
        agent.with_key("DELETE", f"/tools/{quote(name, safe='')}", timeout=STEP_TIMEOUT)


def listed_state(agent: AgentClient, instance_id: str) -> str | None:
    """The item's status word in the authenticated /status, None when it is not listed."""
    items: list[Any] = authenticated_status(agent).get("tool_instances") or []
    for item in items:
        if isinstance(item, dict) and item.get("account_tool_instance_id") == instance_id:
            return str(item.get("status"))
    return None


def step(agent: AgentClient, what: str, method: str, path: str, body: Any = None) -> None:
    answer = keyed_answer_or_fail(agent, method, path, body, timeout=STEP_TIMEOUT)
    if not 200 <= answer.status < 300:
        broken(f"step '{what}' failed: {answer.brief()}")


def expect_state(agent: AgentClient, after: str, instance_id: str, states: tuple[str, ...]) -> None:
    state = listed_state(agent, instance_id)
    if state not in states:
        shown = "not listed" if state is None else f"listed as {state!r}"
        broken(f"after '{after}', {instance_id} is {shown} in /status, expected {'/'.join(states)}")


def test_tool_container_create_list_stop_start_delete(
    agent: AgentClient, settings: SmokeSettings, tool_names: tuple[str, str]
) -> None:
    name, instance_id = tool_names
    path = f"/tools/{quote(name, safe='')}"  # encodeURIComponent, as the backend does
    create = {
        "dockerImageUrl": settings.tool_image,
        "instanceNameOnToolbox": name,
        "accountToolInstanceId": instance_id,
    }
    step(agent, "create", "POST", "/tools", create)
    expect_state(agent, "create", instance_id, ("running",))
    step(agent, "stop", "POST", f"{path}/stop")
    expect_state(agent, "stop", instance_id, ("stopped",))  # the backend reads "exited" as error
    step(agent, "start", "POST", f"{path}/start")
    expect_state(agent, "start", instance_id, ("running",))
    step(agent, "delete", "DELETE", path)
    if listed_state(agent, instance_id) is not None:
        broken(f"after 'delete', {instance_id} is still listed in /status")
