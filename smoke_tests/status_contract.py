"""What the backend reads from `/status`, as JSON Schemas: the refresh (with the backend key) and
the tool list (without credentials); and a diff-like account of where a body departs from them.
The field names and status words come from the agent's own contract (`dtma.contract`)."""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from dtma.contract import BACKEND_STATUS_WORDS, PUBLIC_TOOL_FIELDS
from smoke_tests.promises import clip

_STATUS_WORD = {"enum": list(BACKEND_STATUS_WORDS)}

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
                    "status": _STATUS_WORD,
                },
            },
        },
    },
}

PUBLIC_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tool_instances"],
    "properties": {
        "tool_instances": {
            "type": "array",
            "items": {
                "type": "object",
                "required": list(PUBLIC_TOOL_FIELDS),
                "properties": {
                    "account_tool_instance_id": {"type": "string", "minLength": 1},
                    "container_id": {"type": "string", "minLength": 1},
                    "instance_name_on_toolbox": {"type": "string", "minLength": 1},
                    "status": _STATUS_WORD,
                    "image": {"type": "string"},
                    "created": {"type": "integer"},  # Unix seconds: the list multiplies by 1000
                },
                "additionalProperties": False,
            },
        },
    },
}

# By path, items as `[]`; a bare field name applies wherever no full path is listed.
WHY = {
    "account_tool_instance_id": "the backend silently ignores items without it, so tool "
    "statuses never update",
    "tool_instances": "the backend updates no tool status, its tool list shows none",
    "tool_instances[].status": "the backend's status mapper turns any word but "
    + ", ".join(BACKEND_STATUS_WORDS)
    + " into error",
    "tool_instances[]": "the public /status must not show more than the tool list reads",
    "created": "the tool list shows no creation time",
    "version": "the toolbox row records no DTMA version",
    "environment": "the toolbox row records no health details",
    "status": "the suite cannot tell healthy from misconfigured",
}

_VALIDATOR = Draft202012Validator(STATUS_SCHEMA)
_PUBLIC_VALIDATOR = Draft202012Validator(PUBLIC_STATUS_SCHEMA)


def contract_diff(body: Any) -> list[str]:
    """One line per departure of the keyed /status: `- path: missing` or
    `~ path: expected …, got …`. Empty = fits."""
    return _diff(_VALIDATOR, body)


def public_contract_diff(body: Any) -> list[str]:
    """The same for the /status without credentials, as the backend's tool list reads it."""
    return _diff(_PUBLIC_VALIDATOR, body)


def _diff(validator: Draft202012Validator, body: Any) -> list[str]:
    errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    return [line for error in errors for line in _lines(error)]


def _lines(error: ValidationError) -> list[str]:
    where = _path(error.absolute_path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [_missing(_join(where, name)) for name in missing]
    if error.validator == "anyOf" and all(
        set(option) == {"required"} for option in error.validator_value
    ):
        names = [option["required"][0] for option in error.validator_value]
        return [_missing(_join(where, " or ".join(names)), _join(where, names[0]))]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [f"~ {where}: shows {', '.join(extra)}{_why(where)}"]
    got = clip(json.dumps(error.instance), 60)
    expected = _expected(error)
    return [f"~ {where or '(body)'}: expected {expected}, got {got}{_why(where)}"]


def _expected(error: ValidationError) -> str:
    if error.validator == "type":
        return f"a JSON {error.validator_value}"
    if error.validator == "minLength":
        return "a non-empty string"
    if error.validator == "enum":
        return "one of " + ", ".join(error.validator_value)
    return f"{error.validator} {json.dumps(error.validator_value)}"


def _missing(where: str, reason_of: str | None = None) -> str:
    return f"- {where}: missing{_why(reason_of or where)}"


def _why(where: str) -> str:
    generic = re.sub(r"\[\d+\]", "[]", where)
    name = generic.rsplit(".", 1)[-1]
    reason = WHY.get(generic) or WHY.get(name.split("[")[0])
    return f" ({reason})" if reason else ""


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
