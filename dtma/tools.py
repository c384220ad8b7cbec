"""Tool containers on this droplet. All state lives in Docker labels, so it survives restarts.

Every method blocks on the engine: the routes run them through `dtma.docker_work`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection
from typing import Any

import docker
import requests
from docker.utils import parse_repository_tag

from dtma.config import DEFAULT_PORT
from dtma.errors import ApiError
from dtma.models import CreateToolRequest
from dtma.names import NAME_RULE, container_name_for, is_docker_name, is_reserved, name_problem
from dtma.port_bindings import RequestedBindings, requested_bindings, reserved_ports
from dtma.registries import registry_problem
from dtma.tool_limits import ToolLimits
from dtma.tool_views import (
    INSTANCE_ID,
    INSTANCE_NAME,
    MANAGED_BY,
    MANAGED_FILTER,
    instance_from_summary,
    ports_from_inspect,
    tool_state,
)

REMOVED = "removed"  # runtime_details' state of a container gone since it was listed
QUICK_TIMEOUT = 5.0  # list/inspect: an engine that cannot answer this fast counts as unreachable
SLOW_TIMEOUT = 300.0  # pull/create/start/stop: per socket read, pulls stream progress
PORT_IN_USE = ("port is already allocated", "address already in use")

DockerFactory = Callable[[float], docker.DockerClient]


def default_docker_factory(timeout: float) -> docker.DockerClient:
    """The engine named by DOCKER_HOST (default: the local socket)."""
    client = docker.from_env(timeout=timeout)
    # No proxy stands between the agent and its engine; looking for one in the environment on
    # every call was a third of what listing the containers cost (about half a millisecond).
    client.api.trust_env = False
    return client


def ensure_usable_name(name: str) -> None:
    if problem := name_problem(name):
        raise ApiError(400, f"tool name {problem}: {NAME_RULE}")


class ToolStore:
    """Docker operations on managed containers. Clients are made on demand, with timeouts."""

    def __init__(
        self,
        docker_factory: DockerFactory | None = None,
        agent_port: int = DEFAULT_PORT,
        check_port: int | None = None,
        private_registries: Collection[str] = (),
        limits: ToolLimits | None = None,
    ) -> None:
        self._factory = docker_factory or default_docker_factory
        self.reserved_ports = reserved_ports(agent_port, check_port)
        self.private_registries = frozenset(private_registries)
        self.limits = limits or ToolLimits()
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

    def _managed(self) -> list[dict[str, Any]]:
        api = self._api()
        return self._docker(lambda: api.containers(all=True, filters={"label": MANAGED_FILTER}))

    def list_instances(self) -> list[dict[str, Any]]:
        return [instance_from_summary(summary) for summary in self._managed()]

    def find(self, name: str) -> dict[str, Any]:
        """`docker inspect` of the managed container whose instance name (as typed, first) or
        container name is `name`, else 404."""
        ensure_usable_name(name)
        managed = self._managed()
        by_label = [s for s in managed if (s.get("Labels") or {}).get(INSTANCE_NAME) == name]
        by_name = [s for s in managed if f"/{name}" in (s.get("Names") or [])]
        for summary in by_label or by_name:
            return self._docker(lambda s=summary: self._api().inspect_container(s["Id"]))
        if self._name_taken(name):
            raise ApiError(404, f"container {name} is not managed by DTMA; left untouched")
        raise ApiError(404, f"no tool named {name}")

    def _name_taken(self, container_name: str) -> bool:
        if not is_docker_name(container_name):
            return False  # not a name Docker would accept: no container can hold it
        api = self._api()
        pattern = f"^/{container_name.replace('.', '[.]')}$"  # the engine's filter is a regex
        return bool(self._docker(lambda: api.containers(all=True, filters={"name": pattern})))

    def has_image(self, image: str) -> bool:
        api = self._api()
        try:
            self._docker(lambda: api.inspect_image(image))
            return True
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise ApiError(400, f"invalid image reference {image}: {exc.explanation}") from None

    def ensure_image(self, image: str) -> None:
        if self.has_image(image):
            return
        api = self._api(SLOW_TIMEOUT)
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

    def _refuse_taken(self, name: str, container_name: str) -> None:
        """409 before any pull: reserved, or the name or its container name already in use."""
        if is_reserved(name) or is_reserved(container_name):
            raise ApiError(409, f"instance name {name} is reserved: {NAME_RULE}")
        if any((s.get("Labels") or {}).get(INSTANCE_NAME) == name for s in self._managed()):
            raise ApiError(409, f"instance name {name} is already in use")
        if self._name_taken(container_name):
            raise ApiError(409, f"container name {container_name} is already in use")

    def check_request(self, request: CreateToolRequest) -> RequestedBindings:
        """What refuses the request by itself (no Docker asked): its registry, its ports.
        Returns the bindings it asks for."""
        requested = requested_bindings(request, self.reserved_ports)
        problem = registry_problem(request.dockerImageUrl, self.private_registries)
        if problem := problem or self.limits.ports_problem(requested.bindings):
            raise ApiError(400, problem)
        return requested

    def refuse(self, request: CreateToolRequest) -> RequestedBindings:
        """What would refuse the request, before any pull: itself, its name taken, the
        droplet's tool count. Returns the bindings it asks for."""
        requested = self.check_request(request)
        name = request.instanceNameOnToolbox
        self._refuse_taken(name, container_name_for(name))
        if len(self.list_instances()) >= self.limits.max_tools:
            cause = f"this droplet runs {self.limits.max_tools} tools, the most it takes"
            raise ApiError(409, f"{cause} (DTMA_MAX_TOOLS in the agent's env file)")
        return requested

    def prepare(self, request: CreateToolRequest) -> None:
        """Refused, or its image pulled: the slow part of a create, on its own."""
        self.refuse(request)
        self.ensure_image(request.dockerImageUrl)

    def create(self, request: CreateToolRequest) -> dict[str, Any]:
        requested = self.refuse(request)
        name = request.instanceNameOnToolbox
        container_name = container_name_for(name)
        self.ensure_image(request.dockerImageUrl)  # pulled by prepare(): a quick look
        api = self._api(SLOW_TIMEOUT)
        host_config = api.create_host_config(restart_policy={"Name": "unless-stopped"})
        host_config.update(self.limits.host_config())
        host_config["PortBindings"] = requested.bindings
        override = request.baseConfigOverrideJson
        try:
            created = self._docker(
                lambda: api.create_container(
                    request.dockerImageUrl,
                    name=container_name,
                    environment=(override.Env if override else None) or None,
                    ports=[tuple(key.split("/")) for key in requested.bindings] or None,
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
                raise ApiError(409, f"container name {container_name} is already in use") from None
            status = 400 if exc.is_client_error() else 502
            raise ApiError(status, f"Docker refused the container: {exc.explanation}") from None
        info = self._start_new(created["Id"], name)
        published = ports_from_inspect(info.get("NetworkSettings", {}).get("Ports"))
        return tool_state(info, requested.warnings(published))

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
        return self._docker(lambda: api.inspect_container(container_id))

    def start(self, name: str) -> dict[str, Any]:
        info = self.find(name)
        api = self._api(SLOW_TIMEOUT)
        try:
            if info["State"].get("Paused"):  # reported as "stopped": start brings it back
                self._docker(lambda: api.unpause(info["Id"]))
            else:
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
        labels = info["Config"].get("Labels") or {}
        instance_name = labels.get(INSTANCE_NAME) or info["Name"].lstrip("/")
        return {
            "deleted": True,
            "instance_name_on_toolbox": instance_name,
            "container_id": info["Id"],
        }

    def runtime_details(self, instance: dict[str, Any]) -> dict[str, Any]:
        """Heartbeat details for one container (one inspect; background use only)."""
        api = self._api()
        try:
            state = self._docker(lambda: api.inspect_container(instance["container_id"]))["State"]
        except docker.errors.NotFound:
            state = {"Status": REMOVED}
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
