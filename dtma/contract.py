"""JSON schemas of what the Agentopia backend reads from `GET /status` (see DTMA-CONTRACT.md).

Reusable by any test or check that talks to a live agent:
`jsonschema.validate(body, FULL_STATUS_SCHEMA)`.
"""

from __future__ import annotations

from typing import Any

_BYTES = {"type": "integer", "minimum": 0}
_SIZES = {
    "type": "object",
    "required": ["total_bytes", "used_bytes", "free_bytes"],
    "properties": {"total_bytes": _BYTES, "used_bytes": _BYTES, "free_bytes": _BYTES},
}

PUBLIC_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "service", "version", "dtma_version", "uptime_seconds"],
    "properties": {
        "status": {"enum": ["healthy", "degraded", "misconfigured"]},
        "service": {"const": "DTMA"},
        # The backend stores `body.version || body.dtma_version`: both must be non-empty.
        "version": {"type": "string", "minLength": 1},
        "dtma_version": {"type": "string", "minLength": 1},
        "uptime_seconds": {"type": "number", "minimum": 0},
        "missing": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z_]+$"}},
        "reason": {"type": "string"},
    },
}

TOOL_INSTANCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    # Items without account_tool_instance_id are silently ignored by the backend (bug #5).
    "required": [
        "account_tool_instance_id",
        "instance_name_on_toolbox",
        "container_id",
        "status",
        "image",
        "ports",
        "created",
    ],
    "properties": {
        "account_tool_instance_id": {"type": "string", "minLength": 1},
        "instance_name_on_toolbox": {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"},
        "container_id": {"type": "string", "minLength": 12},
        # Docker states; the backend maps running/exited/created/restarting, else "error".
        "status": {
            "enum": ["created", "running", "paused", "restarting", "removing", "exited", "dead"]
        },
        "image": {"type": "string"},
        "ports": {"type": "object"},
        "created": {"type": "integer"},
    },
}

FULL_STATUS_SCHEMA: dict[str, Any] = {
    **PUBLIC_STATUS_SCHEMA,
    "required": [
        *PUBLIC_STATUS_SCHEMA["required"],
        "environment",
        "system_metrics",
        "tool_instances",
    ],
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
                    "status_on_toolbox": {"enum": ["running", "stopped", "deploying", "error"]},
                    "runtime_details": {
                        "type": "object",
                        "required": ["container_id", "image", "started_at", "state_details"],
                    },
                },
            },
        },
    },
}
