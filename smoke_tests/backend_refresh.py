"""What the backend's refresh-status function makes of one `GET /status` answer. Pure.

The real function (DTMA-CONTRACT.md) makes one GET /status with the backend key, no retry.
A network error, a non-2xx answer or a body that is not JSON marks the toolbox `unresponsive`
and throws, which the frontend shows as HTTP 500 `{"error": ...}`. Otherwise:
version = body.version || body.dtma_version; health = body.environment || body.system_metrics
|| body; status = 'active'; each tool_instances[] item WITH account_tool_instance_id sets that
instance's status_on_toolbox from its `status` through the backend's status mapper; items without
the id are silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# The backend's status mapper: exactly these words, in any case. Every other word (Docker's
# `exited`, `created`, `restarting`, `dead`, ...) becomes error.
INSTANCE_STATUS = {
    "running": "running",
    "stopped": "stopped",
    "pending": "deploying",
    "starting": "deploying",
    "stopping": "deploying",
    "error": "error",
}


def instance_status(word: Any) -> str:
    """The backend's mapping from an item's `status` to `status_on_toolbox`."""
    return INSTANCE_STATUS.get(word.lower(), "error") if isinstance(word, str) else "error"


def js_or(*values: Any) -> Any:
    """JavaScript's `a || b || c`: the first truthy value, else the last one."""
    for value in values[:-1]:
        if value:
            return value
    return values[-1]


@dataclass(frozen=True)
class RefreshOutcome:
    """The toolbox row fields and instance statuses the refresh would write, or its error."""

    error: str | None = None
    toolbox_status: str = "unresponsive"
    version: Any = None
    health_details: Any = None
    instance_statuses: dict[str, str] = field(default_factory=dict)
    ignored_items: int = 0

    @property
    def succeeded(self) -> bool:
        return self.error is None


def refresh_from_answer(status: int, body_text: str) -> RefreshOutcome:
    """Apply the backend's rules to the agent's HTTP answer to `GET /status`."""
    if not 200 <= status < 300:
        return _failed(f"DTMA status check failed with HTTP {status}")
    try:
        body = json.loads(body_text)
    except ValueError:
        return _failed("the /status body is not JSON")
    if not isinstance(body, dict):
        # `body.version` on null throws in the function; on a list or a string it reads nothing.
        return _failed(f"the /status body is JSON {type(body).__name__}, not an object")
    instances: dict[str, str] = {}
    ignored = 0
    items = body.get("tool_instances")
    for item in items if isinstance(items, list) else []:
        instance_id = item.get("account_tool_instance_id") if isinstance(item, dict) else None
        if instance_id:
            instances[str(instance_id)] = instance_status(item.get("status"))
        else:
            ignored += 1
    return RefreshOutcome(
        toolbox_status="active",
        version=js_or(body.get("version"), body.get("dtma_version")),
        health_details=js_or(body.get("environment"), body.get("system_metrics"), body),
        instance_statuses=instances,
        ignored_items=ignored,
    )


def refresh_from_network_error(reason: str) -> RefreshOutcome:
    """The request never got an answer: the function throws too."""
    return _failed(f"DTMA unreachable: {reason}")


def _failed(error: str) -> RefreshOutcome:
    return RefreshOutcome(error=f"Failed to refresh status from DTMA: {error}")
