"""The part of the authenticated `/status` body the backend's refresh reads, as a JSON Schema,
and a diff-like account of where a body departs from it."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from smoke_tests.promises import clip

STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "tool_instances"],
    "allOf": [
        {"anyOf": [{"required": ["version"]}, {"required": ["dtma_version"]}]},
        {"anyOf": [{"required": ["environment"]}, {"required": ["system_metrics"]}]},
    ],
    "properties": {
        "status": {"type": "string"},
        "version": {"type": "string", "minLength": 1},
        "dtma_version": {"type": "string", "minLength": 1},
        "environment": {"type": "object"},
        "system_metrics": {"type": "object"},
        "tool_instances": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["account_tool_instance_id", "status"],
                "properties": {
                    "account_tool_instance_id": {"type": "string", "minLength": 1},
                    "status": {"type": "string"},
                },
            },
        },
    },
}

WHY = {
    "account_tool_instance_id": "the backend silently ignores items without it, so tool "
    "statuses never update",
    "tool_instances": "the backend updates no tool status",
    "version": "the toolbox row records no DTMA version",
    "environment": "the toolbox row records no health details",
    "status": "the suite cannot tell healthy from misconfigured",
}

_VALIDATOR = Draft202012Validator(STATUS_SCHEMA)


def contract_diff(body: Any) -> list[str]:
    """One line per departure: `- path: missing` or `~ path: expected …, got …`. Empty = fits."""
    errors = sorted(_VALIDATOR.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    return [line for error in errors for line in _lines(error)]


def _lines(error: ValidationError) -> list[str]:
    where = _path(error.absolute_path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [_missing(_join(where, name), name) for name in missing]
    if error.validator == "anyOf" and all(
        set(option) == {"required"} for option in error.validator_value
    ):
        names = [option["required"][0] for option in error.validator_value]
        return [_missing(_join(where, " or ".join(names)), names[0])]
    got = clip(json.dumps(error.instance), 60)
    expected = _expected(error)
    return [f"~ {where or '(body)'}: expected {expected}, got {got}{_why(where)}"]


def _expected(error: ValidationError) -> str:
    if error.validator == "type":
        return f"a JSON {error.validator_value}"
    if error.validator == "minLength":
        return "a non-empty string"
    return f"{error.validator} {json.dumps(error.validator_value)}"


def _missing(where: str, name: str) -> str:
    return f"- {where}: missing{_why(name)}"


def _why(where: str) -> str:
    name = where.rsplit(".", 1)[-1].split("[")[0]
    return f" ({WHY[name]})" if name in WHY else ""


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def unhealthy_reason(body: dict[str, Any]) -> str:
    """What the agent itself says about why it is not healthy (names, never values)."""
    said = []
    for key, value in body.items():
        lowered = key.lower()
        if any(
            word in lowered
            for word in ("reason", "missing", "invalid", "detail", "error", "problem")
        ):
            said.append(f"{key}: {json.dumps(value)}")
    docker = body.get("docker")
    if isinstance(docker, dict | str):
        said.append(f"docker: {json.dumps(docker)}")
    return "; ".join(said) or "the agent gives no reason (no reason/missing/detail/error field)"
