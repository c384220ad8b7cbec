"""How a tool container is shown: /status items, tool answers, and the backend's status words."""

from __future__ import annotations

from typing import Any

from dtma.contract import PUBLIC_TOOL_FIELDS

MANAGED_BY = "agentopia.managed_by"
INSTANCE_NAME = "agentopia.instance_name"
INSTANCE_ID = "agentopia.account_tool_instance_id"
MANAGED_FILTER = f"{MANAGED_BY}=dtma"

# Docker's state -> the word the backend's status mapper knows (any other word becomes "error"
# there). `paused` is "stopped": the tool serves nothing, and start unpauses it.
BACKEND_STATUS = {
    "running": "running",
    "exited": "stopped",
    "paused": "stopped",
    "created": "pending",
    "restarting": "starting",
    "removing": "stopping",
    "dead": "error",
}


# Docker's state -> the heartbeat's word, one of INSTALLATION_STATUSES (the heartbeat has no
# mapper): the very word refresh-status's mapper writes for the same state, so the two paths
# never disagree (`pending`, `starting`, `stopping` all become "deploying" there).
HEARTBEAT_STATUS = {
    "running": "running",
    "exited": "stopped",
    "paused": "stopped",
    "created": "deploying",
    "restarting": "deploying",
    "removing": "deploying",
    "dead": "error",
}


def backend_status(docker_state: str | None) -> str:
    return BACKEND_STATUS.get(docker_state or "", "error")


def heartbeat_status(docker_state: str | None) -> str:
    return HEARTBEAT_STATUS.get(docker_state or "", "error")


def _ports_from_list(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    ports: dict[str, list[dict[str, str]]] = {}
    for entry in entries or []:
        key = f"{entry.get('PrivatePort')}/{entry.get('Type', 'tcp')}"
        bindings = ports.setdefault(key, [])
        if entry.get("PublicPort"):
            bindings.append({"HostIp": entry.get("IP", ""), "HostPort": str(entry["PublicPort"])})
    return ports


def ports_from_inspect(raw: dict[str, Any] | None) -> dict[str, list[dict[str, str]]]:
    return {key: list(value or []) for key, value in (raw or {}).items()}


def instance_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """One full /status `tool_instances` item from a `GET /containers/json` entry."""
    labels = summary.get("Labels") or {}
    container_name = (summary.get("Names") or ["/"])[0].lstrip("/")
    state = summary.get("State", "")
    return {
        "account_tool_instance_id": labels.get(INSTANCE_ID, ""),
        "instance_name_on_toolbox": labels.get(INSTANCE_NAME) or container_name,
        "container_id": summary["Id"],
        "container_name": container_name,
        "status": backend_status(state),
        "docker_state": state or "unknown",
        "image": summary.get("Image", ""),
        "ports": _ports_from_list(summary.get("Ports", [])),
        "created": int(summary.get("Created", 0)),
    }


def public_instance(instance: dict[str, Any]) -> dict[str, Any]:
    """Only what the backend's tool list reads: no ports, env, metrics or configuration."""
    return {field: instance[field] for field in PUBLIC_TOOL_FIELDS}


def tool_state(info: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any]:
    """The answer of create/start/stop, from `docker inspect`."""
    labels = info["Config"].get("Labels") or {}
    container_name = info["Name"].lstrip("/")
    state = info["State"]["Status"]
    answer = {
        "container_id": info["Id"],
        "container_name": container_name,
        "instance_name_on_toolbox": labels.get(INSTANCE_NAME) or container_name,
        "account_tool_instance_id": labels.get(INSTANCE_ID, ""),
        "image": info["Config"].get("Image", ""),
        "ports": ports_from_inspect(info.get("NetworkSettings", {}).get("Ports")),
        "status": backend_status(state),
        "state": state,
    }
    if warnings is not None:
        answer["warnings"] = warnings
    return answer
