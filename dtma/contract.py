"""JSON schemas of what the Agentopia backend reads from `GET /status` (see DTMA-CONTRACT.md).

Reusable by any test or check that talks to a live agent:
`jsonschema.validate(body, FULL_STATUS_SCHEMA)`.
"""

from __future__ import annotations

from typing import Any

# The words the backend's status mapper knows (DTMA-CONTRACT.md); it turns any other into error.
BACKEND_STATUS_WORDS = ("running", "stopped", "pending", "starting", "stopping", "error")
# The heartbeat's `status_on_toolbox` is written as received into the enum column
# `account_tool_installation_status_enum`: any other word fails that row's update in silence.
INSTALLATION_STATUSES = (
    "pending_install",
    "installing",
    "active",
    "error_install",
    "pending_uninstall",
    "uninstalling",
    "uninstalled",
    "error_uninstall",
    "pending_config",
    "stopped",
    "starting",
    "stopping",
    "error_runtime",
    "disabled",
    "pending_deploy",
    "deploying",
    "running",
    "error",
    "pending_delete",
    "deleting",
)
# What the backend's tool list reads from the unauthenticated /status, plus the instance id.
LIST_FIELDS = ("container_id", "instance_name_on_toolbox", "status", "image", "created")
PUBLIC_TOOL_FIELDS = ("account_tool_instance_id", *LIST_FIELDS)

_BYTES = {"type": "integer", "minimum": 0}
_SIZES = {
    "type": "object",
    "required": ["total_bytes", "used_bytes", "free_bytes"],
    "properties": {"total_bytes": _BYTES, "used_bytes": _BYTES, "free_bytes": _BYTES},
}

_TOOL_FIELD_SCHEMAS: dict[str, Any] = {
    "account_tool_instance_id": {"type": "string", "minLength": 1},
    "instance_name_on_toolbox": {"type": "string", "minLength": 1},
    "container_id": {"type": "string", "minLength": 12},
    "status": {"enum": list(BACKEND_STATUS_WORDS)},
    "image": {"type": "string"},
    # Unix seconds: the list computes `created * 1000`.
    "created": {"type": "integer"},
}

PUBLIC_TOOL_INSTANCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(PUBLIC_TOOL_FIELDS),
    "properties": _TOOL_FIELD_SCHEMAS,
    "additionalProperties": False,  # no ports, env, metrics or configuration without credentials
}

TOOL_INSTANCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    # Items without account_tool_instance_id are silently ignored by the backend (bug #5).
    "required": [*PUBLIC_TOOL_FIELDS, "container_name", "docker_state", "ports"],
    "properties": {
        **_TOOL_FIELD_SCHEMAS,
        "container_name": {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"},
        "docker_state": {"type": "string", "minLength": 1},
        "ports": {"type": "object"},
    },
}

PUBLIC_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "status",
        "service",
        "version",
        "dtma_version",
        "uptime_seconds",
        "tool_instances",
    ],
    "properties": {
        "status": {"enum": ["healthy", "degraded", "misconfigured"]},
        "service": {"const": "DTMA"},
        # The backend stores `body.version || body.dtma_version`: both must be non-empty.
        "version": {"type": "string", "minLength": 1},
        "dtma_version": {"type": "string", "minLength": 1},
        "uptime_seconds": {"type": "number", "minimum": 0},
        "missing": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z_]+$"}},
        "reason": {"type": "string"},
        "tool_instances": {"type": "array", "items": PUBLIC_TOOL_INSTANCE_SCHEMA},
    },
    "not": {"anyOf": [{"required": ["environment"]}, {"required": ["system_metrics"]}]},
}

FULL_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [*PUBLIC_STATUS_SCHEMA["required"], "environment", "system_metrics"],
    "properties": {
        **PUBLIC_STATUS_SCHEMA["properties"],
        # The backend stores `body.environment || body.system_metrics || body`.
        "environment": {
            "type": "object",
            "required": ["hasAuthToken", "hasApiKey", "hasApiBaseUrl", "port"],
            "properties": {
                "hasAuthToken": {"type": "boolean"},
                "hasApiKey": {"type": "boolean"},
                "hasApiBaseUrl": {"type": "boolean"},
                "port": {"type": "integer"},
            },
        },
        "system_metrics": {
            "type": "object",
            "required": ["cpu_load_percent", "memory", "disk", "uptime_seconds"],
            "properties": {
                "cpu_load_percent": {"type": "number", "minimum": 0},
                "memory": _SIZES,
                "disk": {**_SIZES, "required": [*_SIZES["required"], "mount"]},
                "uptime_seconds": {"type": "number", "minimum": 0},
            },
        },
        "tool_instances": {"type": "array", "items": TOOL_INSTANCE_SCHEMA},
    },
}

HEARTBEAT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["dtma_version", "system_status", "tool_statuses"],
    "properties": {
        "dtma_version": {"type": "string", "minLength": 1},
        "system_status": {"type": "object"},
        "tool_statuses": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["account_tool_instance_id", "status_on_toolbox", "runtime_details"],
                "properties": {
                    "account_tool_instance_id": {"type": "string", "minLength": 1},
                    "status_on_toolbox": {"enum": list(INSTALLATION_STATUSES)},
                    "runtime_details": {
                        "type": "object",
                        "required": ["container_id", "image", "started_at", "state_details"],
                    },
                },
            },
        },
    },
}

# Every answer names the process that gave it (random per start): during a handover the deploy
# waits until the public port is answered by the release it promoted, same version or not.
INSTANCE_HEADER = "X-DTMA-Instance"
