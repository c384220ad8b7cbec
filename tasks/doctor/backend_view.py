"""The backend's view of an agent: its refresh makes one `GET http://HOST:30000/status` with the
backend key, single attempt (DTMA-CONTRACT.md). What it would get, in words.

A network error, a non-2xx answer or a body that is not JSON makes the refresh throw: the user
sees a 500. A 2xx JSON body still fails the user when it lacks what the backend reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

from dtma.contract import BACKEND_STATUS_WORDS

REFUSED, TIMEOUT, NETWORK = "refused", "timeout", "network"
HTTP, NOT_JSON, AUTH = "http-error", "not-json", "auth"
SHAPE, MINIMAL, WORDS, MISCONFIGURED, DEGRADED = (
    "status-shape",
    "minimal-status",
    "status-words",
    "misconfigured",
    "degraded",
)
OK = "ok"


@dataclass(frozen=True)
class BackendView:
    kind: str  # OK or one of the words above
    words: str  # what the backend would get, for a person
    keyed: bool  # the backend key was presented (else the public summary was read)
    http_status: int | None = None
    body: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def answered(self) -> bool:
        """A 2xx JSON answer: the refresh itself would not throw."""
        return self.kind not in (REFUSED, TIMEOUT, NETWORK, HTTP, NOT_JSON, AUTH)

    @property
    def ours(self) -> bool:
        """The body is this project's agent's (it names its service and dtma_version)."""
        return self.body.get("service") == "DTMA" and "dtma_version" in self.body


def from_error(exc: BaseException, keyed: bool, wait: float) -> BackendView:
    if isinstance(exc, requests.ConnectTimeout | requests.ReadTimeout):
        return BackendView(TIMEOUT, f"no answer within {wait:.0f} s", keyed)
    text = str(exc).lower()
    if "refused" in text:
        return BackendView(REFUSED, "connection refused", keyed)
    if "reset" in text or "aborted" in text or "remotedisconnected" in text:
        return BackendView(NETWORK, "connection closed without an answer", keyed)
    return BackendView(NETWORK, f"network error ({type(exc).__name__})", keyed)


def tool_problems(items: Any) -> tuple[str, str]:
    """(kind, words) of what the backend would mis-read in `tool_instances`, or ("", "")."""
    if not isinstance(items, list):
        return MINIMAL, "/status has no tool_instances: the backend's tool list is empty"
    for item in items:
        if not isinstance(item, dict) or not item.get("account_tool_instance_id"):
            return (
                SHAPE,
                "/status lists a tool without account_tool_instance_id: the backend never "
                "updates that tool's status",
            )
        if not isinstance(item.get("created"), int | float) or isinstance(item["created"], bool):
            return SHAPE, "/status lists a tool without numeric created: the tool list breaks"
        word = str(item.get("status", ""))
        if word.lower() not in BACKEND_STATUS_WORDS:
            name = item.get("instance_name_on_toolbox") or item["account_tool_instance_id"]
            return (
                WORDS,
                f"tool {name!r} reports status {word!r}, which the backend shows as error",
            )
    return "", ""


def from_answer(status: int, text: str, keyed: bool) -> BackendView:
    if status in (401, 403):
        said = "refuses the backend key" if keyed else "asks for credentials"
        return BackendView(AUTH, f"HTTP {status}: the agent {said}", keyed, status)
    if not 200 <= status < 300:
        return BackendView(HTTP, f"HTTP {status}", keyed, status)
    try:
        body = json.loads(text)
    except ValueError:
        return BackendView(NOT_JSON, f"HTTP {status} with a body that is not JSON", keyed, status)
    if not isinstance(body, dict):
        return BackendView(NOT_JSON, f"HTTP {status} with JSON that is not an object", keyed)
    if body.get("status") == MISCONFIGURED:
        missing = ", ".join(map(str, body.get("missing") or body.get("invalid") or [])) or "?"
        return BackendView(
            MISCONFIGURED, f"/status says misconfigured: {missing}", keyed, status, body
        )
    kind, words = tool_problems(body.get("tool_instances"))
    if kind:
        return BackendView(kind, words, keyed, status, body)
    if body.get("status") == DEGRADED:
        why = body.get("reason") or "its Docker engine does not answer"
        return BackendView(DEGRADED, f"/status says degraded: {why}", keyed, status, body)
    tools = len(body.get("tool_instances") or [])
    version = body.get("version") or body.get("dtma_version") or "?"
    return BackendView(
        OK, f"/status {body.get('status')}, version {version}, {tools} tool(s)", keyed, status, body
    )


def ask(url: str, key: str, wait: float) -> BackendView:
    """One GET /status as the backend sends it (with `key`; without one when it is "")."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        answer = requests.get(f"{url}/status", headers=headers, timeout=wait, allow_redirects=False)
    except requests.RequestException as exc:
        return from_error(exc, bool(key), wait)
    return from_answer(answer.status_code, answer.text, bool(key))
