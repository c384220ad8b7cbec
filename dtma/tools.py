"""Tool containers on this droplet. All state lives in Docker labels, so it survives restarts."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import docker
import requests
from docker.utils import parse_repository_tag

from dtma.errors import ApiError
from dtma.models import CreateToolRequest
from dtma.names import NAME_RULE, is_valid_name

MANAGED_BY = "agentopia.managed_by"
INSTANCE_NAME = "agentopia.instance_name"
INSTANCE_ID = "agentopia.account_tool_instance_id"
MANAGED_FILTER = f"{MANAGED_BY}=dtma"
QUICK_TIMEOUT = 5.0  # list/inspect: an engine that cannot answer this fast counts as unreachable
SLOW_TIMEOUT = 300.0  # pull/create/start/stop: per socket read, pulls stream progress
PORT_IN_USE = ("port is already allocated", "address already in use")

DockerFactory = Callable[[float], docker.DockerClient]


def default_docker_factory(timeout: float) -> docker.DockerClient:
    """The engine named by DOCKER_HOST (default: the local socket)."""
    return docker.from_env(timeout=timeout)


def ensure_valid_name(name: str) -> None:
    if not is_valid_name(name):
        raise ApiError(400, f"invalid container name: {NAME_RULE}")


def _ports_from_list(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    ports: dict[str, list[dict[str, str]]] = {}
    for entry in entries or []:
        key = f"{entry.get('PrivatePort')}/{entry.get('Type', 'tcp')}"
        bindings = ports.setdefault(key, [])
        if entry.get("PublicPort"):
            bindings.append({"HostIp": entry.get("IP", ""), "HostPort": str(entry["PublicPort"])})
    return ports


def _ports_from_inspect(raw: dict[str, Any] | None) -> dict[str, list[dict[str, str]]]:
    return {key: list(value or []) for key, value in (raw or {}).items()}


def instance_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """One /status `tool_instances` item from a `GET /containers/json` entry (no extra calls)."""
    labels = summary.get("Labels") or {}
    names = summary.get("Names") or ["/"]
    return {
        "account_tool_instance_id": labels.get(INSTANCE_ID, ""),
        "instance_name_on_toolbox": labels.get(INSTANCE_NAME) or names[0].lstrip("/"),
        "container_id": summary["Id"],
        "status": summary.get("State", "unknown"),
        "image": summary.get("Image", ""),
        "ports": _ports_from_list(summary.get("Ports", [])),
        "created": int(summary.get("Created", 0)),
    }


def tool_state(info: dict[str, Any]) -> dict[str, Any]:
    """The answer of create/start/stop, from `docker inspect`."""
    labels = info["Config"].get("Labels") or {}
    return {
        "container_id": info["Id"],
        "instance_name_on_toolbox": labels.get(INSTANCE_NAME, info["Name"].lstrip("/")),
        "account_tool_instance_id": labels.get(INSTANCE_ID, ""),
        "image": info["Config"].get("Image", ""),
        "ports": _ports_from_inspect(info.get("NetworkSettings", {}).get("Ports")),
        "state": info["State"]["Status"],
    }


def port_bindings(request: CreateToolRequest) -> dict[str, list[dict[str, str]]]:
    override = request.baseConfigOverrideJson
    raw = override.HostConfig.PortBindings if override and override.HostConfig else None
    bindings: dict[str, list[dict[str, str]]] = {}
    for key, targets in (raw or {}).items():
        port, _, proto = key.partition("/")  # the model admits ports 1-65535 only
        bindings[f"{int(port)}/{proto or 'tcp'}"] = [
            {"HostIp": t.HostIp, "HostPort": t.HostPort} for t in targets
        ]
    return bindings


class ToolStore:
    """Docker operations on managed containers. Clients are made on demand, with timeouts."""

    def __init__(self, docker_factory: DockerFactory | None = None) -> None:
        self._factory = docker_factory or default_docker_factory
        self._clients: dict[float, docker.DockerClient] = {}
        self._lock = threading.Lock()

    def _api(self, timeout: float = QUICK_TIMEOUT) -> docker.APIClient:
        with self._lock:
            client = self._clients.get(timeout)
        if client is None:
            try:
                client = self._factory(timeout)
            except (docker.errors.DockerException, requests.RequestException) as exc:
                raise ApiError(503, f"Docker engine unreachable: {exc}") from None
            with self._lock:
                self._clients[timeout] = client
        return client.api

    def _forget_clients(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _docker(self, call: Callable[[], Any]) -> Any:
        """Run one engine call; a lost connection becomes 503, never a 500."""
        try:
            return call()
        except docker.errors.APIError:
            raise  # the engine answered (APIError is a requests.HTTPError): callers decide
        except requests.RequestException as exc:
            self._forget_clients()
            raise ApiError(503, f"Docker engine unreachable: {exc}") from None

    def list_instances(self) -> list[dict[str, Any]]:
        api = self._api()
        found = self._docker(lambda: api.containers(all=True, filters={"label": MANAGED_FILTER}))
        return [instance_from_summary(summary) for summary in found]

    def find(self, name: str) -> dict[str, Any]:
        """`docker inspect` of the managed container with this name, else 404."""
        ensure_valid_name(name)
        api = self._api()
        labels = [MANAGED_FILTER, f"{INSTANCE_NAME}={name}"]
        found = self._docker(lambda: api.containers(all=True, filters={"label": labels}))
        for summary in found:
            if f"/{name}" in (summary.get("Names") or []):
                return self._docker(lambda s=summary: api.inspect_container(s["Id"]))
        if self._name_taken(name):
            raise ApiError(404, f"container {name} is not managed by DTMA; left untouched")
        raise ApiError(404, f"no tool container named {name}")

    def _name_taken(self, name: str) -> bool:
        api = self._api()
        pattern = f"^/{name.replace('.', '[.]')}$"  # the engine's name filter is a regex
        return bool(self._docker(lambda: api.containers(all=True, filters={"name": pattern})))

    def ensure_image(self, image: str) -> None:
        api = self._api(SLOW_TIMEOUT)
        try:
            self._docker(lambda: api.inspect_image(image))
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise ApiError(400, f"invalid image reference {image}: {exc.explanation}") from None
        repository, tag = parse_repository_tag(image)
        try:
            # Pull errors can arrive inside the progress stream with HTTP 200: read every event.
            for event in api.pull(repository, tag=tag or "latest", stream=True, decode=True):
                if "error" in event:
                    raise ApiError(502, f"cannot pull image {image}: {event['error']}")
        except docker.errors.APIError as exc:
            if "invalid reference format" in str(exc.explanation):
                raise ApiError(400, f"invalid image reference {image}") from None
            raise ApiError(502, f"cannot pull image {image}: {exc.explanation}") from None
        except requests.RequestException as exc:
            self._forget_clients()
            raise ApiError(503, f"Docker engine unreachable: {exc}") from None

    def create(self, request: CreateToolRequest) -> dict[str, Any]:
        name = request.instanceNameOnToolbox
        ensure_valid_name(name)
        bindings = port_bindings(request)
        if self._name_taken(name):
            raise ApiError(409, f"container name {name} is already in use")
        self.ensure_image(request.dockerImageUrl)
        api = self._api(SLOW_TIMEOUT)
        host_config = api.create_host_config(restart_policy={"Name": "unless-stopped"})
        host_config["PortBindings"] = bindings
        override = request.baseConfigOverrideJson
        try:
            created = self._docker(
                lambda: api.create_container(
                    request.dockerImageUrl,
                    name=name,
                    environment=(override.Env if override else None) or None,
                    ports=[tuple(key.split("/")) for key in bindings] or None,
                    labels={
                        MANAGED_BY: "dtma",
                        INSTANCE_NAME: name,
                        INSTANCE_ID: request.accountToolInstanceId,
                    },
                    host_config=host_config,
                )
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise ApiError(409, f"container name {name} is already in use") from None
            status = 400 if exc.is_client_error() else 502
            raise ApiError(status, f"Docker refused the container: {exc.explanation}") from None
        return self._start_new(created["Id"], name)

    def _start_new(self, container_id: str, name: str) -> dict[str, Any]:
        api = self._api(SLOW_TIMEOUT)
        try:
            self._docker(lambda: api.start(container_id))
        except docker.errors.APIError as exc:
            # Leave nothing half-made behind: a retry must not meet "name already in use".
            self._docker(lambda: api.remove_container(container_id, force=True))
            reason = str(exc.explanation)
            if any(marker in reason for marker in PORT_IN_USE):
                raise ApiError(409, f"host port in use for {name}: {reason}") from None
            raise ApiError(502, f"Docker could not start {name}: {reason}") from None
        return tool_state(self._docker(lambda: api.inspect_container(container_id)))

    def start(self, name: str) -> dict[str, Any]:
        info = self.find(name)
        api = self._api(SLOW_TIMEOUT)
        try:
            self._docker(lambda: api.start(info["Id"]))
        except docker.errors.APIError as exc:
            reason = str(exc.explanation)
            status = 409 if any(marker in reason for marker in PORT_IN_USE) else 502
            raise ApiError(status, f"Docker could not start {name}: {reason}") from None
        return tool_state(self._docker(lambda: api.inspect_container(info["Id"])))

    def stop(self, name: str) -> dict[str, Any]:
        info = self.find(name)
        api = self._api(SLOW_TIMEOUT)
        self._docker(lambda: api.stop(info["Id"], timeout=10))
        return tool_state(self._docker(lambda: api.inspect_container(info["Id"])))

    def delete(self, name: str) -> dict[str, Any]:
        info = self.find(name)
        api = self._api(SLOW_TIMEOUT)
        with contextlib.suppress(docker.errors.NotFound):  # removed meanwhile: goal reached
            self._docker(lambda: api.remove_container(info["Id"], force=True))
        return {"deleted": True, "instance_name_on_toolbox": name, "container_id": info["Id"]}

    def runtime_details(self, instance: dict[str, Any]) -> dict[str, Any]:
        """Heartbeat details for one container (one inspect; background use only)."""
        api = self._api()
        try:
            state = self._docker(lambda: api.inspect_container(instance["container_id"]))["State"]
        except docker.errors.NotFound:
            state = {"Status": "removed"}
        return {
            "container_id": instance["container_id"],
            "image": instance["image"],
            "started_at": state.get("StartedAt"),
            "state_details": {
                "status": state.get("Status"),
                "exit_code": state.get("ExitCode"),
                "error": state.get("Error") or None,
                "restarting": state.get("Restarting", False),
            },
        }
