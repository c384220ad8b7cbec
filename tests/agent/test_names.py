"""Any name a user types: derived container names, lookups by either name, reserved names.

The end-to-end tests talk to a real `python -m dtma` (uvicorn decodes the path once, as in
production; the in-process test client decodes it twice)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import docker
import pytest
import requests

from dtma.names import container_name_for, is_docker_name, is_reserved
from dtma.tool_views import INSTANCE_ID, INSTANCE_NAME, MANAGED_BY
from tests.agent.conftest import BACKEND_KEY, DROPLET_TOKEN, auth, start_agent, stop_agent

HEADERS = auth(BACKEND_KEY)
TYPED = [
    "Context7 MCP Server-1750",
    "Ünïcödé tool ✨",
    "工具 服务器",
    "a/b testing",
    "   padded   ",
    "tool-0123456789ab",  # a valid name that looks derived: derived too
    "x" * 200,
]


@pytest.mark.parametrize("name", TYPED)
def test_derived_names_are_docker_valid_and_deterministic(name):
    derived = container_name_for(name)
    assert is_docker_name(derived)
    assert derived == container_name_for(name)
    assert len(derived) <= 128


def test_valid_docker_names_are_kept_as_they_are():
    assert container_name_for("my-tool_1.2") == "my-tool_1.2"


def test_names_differing_only_in_rejected_characters_do_not_collide():
    names = ["Context7 MCP", "Context7/MCP", "Context7\u00a0MCP", "Context7-MCP", "Context7  MCP"]
    derived = {container_name_for(name) for name in names}
    assert len(derived) == len(names)
    assert container_name_for("Context7 MCP").startswith("Context7-MCP-")


@pytest.mark.parametrize(
    "name",
    ["dtma", "DTMA", "dtma-previous", "dtma-candidate", "dtma_manager", "agentopia_backend"],
)
def test_reserved_names(name):
    assert is_reserved(name)


@pytest.mark.parametrize("name", ["my-dtma", "dtmatool", "agentopia", "tool-1"])
def test_ordinary_names_are_not_reserved(name):
    assert not is_reserved(name)


class AgentHttp:
    """requests against a running agent, shaped like the test client."""

    def __init__(self, base_url: str) -> None:
        self.base_url, self.session = base_url, requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=60, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, docker_client) -> Iterator[AgentHttp]:
    env = {"DTMA_BEARER_TOKEN": DROPLET_TOKEN, "BACKEND_TO_DTMA_API_KEY": BACKEND_KEY}
    process = start_agent(env, tmp_path_factory.mktemp("names") / "agent.log")
    try:
        yield AgentHttp(process.base_url)
    finally:
        stop_agent(process)


@pytest.fixture
def suffix(docker_client: docker.DockerClient) -> Iterator[str]:
    """A unique suffix for instance names; every managed container carrying it goes afterwards."""
    value = uuid.uuid4().hex[:8]
    yield value
    for container in docker_client.containers.list(all=True, filters={"label": MANAGED_BY}):
        if value in container.labels.get(INSTANCE_NAME, ""):
            container.remove(force=True)


def create(agent, image: str, name: str, instance_id: str = "ati-names"):
    body = {
        "dockerImageUrl": image,
        "instanceNameOnToolbox": name,
        "accountToolInstanceId": instance_id,
    }
    return agent.post("/tools", json=body, headers=HEADERS)


def lifecycle_by_encoded_name(agent: AgentHttp, docker_client, image: str, name: str) -> str:
    created = create(agent, image, name)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["instance_name_on_toolbox"] == name
    assert body["container_name"] == container_name_for(name)
    container = docker_client.containers.get(body["container_id"])
    assert container.name == container_name_for(name)
    assert container.labels[INSTANCE_NAME] == name
    path = f"/tools/{quote(name, safe='')}"  # encodeURIComponent, as the backend does
    for action, state in (("stop", "exited"), ("start", "running")):
        answer = agent.post(f"{path}/{action}", headers=HEADERS)
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == state
        assert answer.json()["instance_name_on_toolbox"] == name
    deleted = agent.delete(path, headers=HEADERS)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {
        "deleted": True,
        "instance_name_on_toolbox": name,
        "container_id": body["container_id"],
    }
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(body["container_id"])
    return body["container_name"]


@pytest.mark.e2e
def test_typed_names_go_through_the_lifecycle(agent, docker_client, tool_image, suffix):
    # Side by side, as users work: each stop waits out the tool's 10 s grace period.
    typed = ["Context7 MCP Server-{}", "Ünïcödé ✨ {}", "工具 {}", "team a/b {}", "mcp%20{}"]
    names = [pattern.format(suffix) for pattern in typed]
    with ThreadPoolExecutor(len(names)) as pool:
        lifecycles = [
            pool.submit(lifecycle_by_encoded_name, agent, docker_client, tool_image, name)
            for name in names
        ]
        container_names = [lifecycle.result() for lifecycle in lifecycles]
    assert len(set(container_names)) == len(names)


@pytest.mark.e2e
def test_two_names_differing_only_in_rejected_characters_live_side_by_side(
    agent, tool_image, suffix
):
    first, second = f"Context7 MCP {suffix}", f"Context7/MCP {suffix}"
    assert create(agent, tool_image, first, "ati-first").status_code == 201
    assert create(agent, tool_image, second, "ati-second").status_code == 201
    stopped = agent.post(f"/tools/{quote(first, safe='')}/stop", headers=HEADERS)
    assert stopped.status_code == 200
    items = {
        item["instance_name_on_toolbox"]: item
        for item in agent.get("/status", headers=HEADERS).json()["tool_instances"]
    }
    assert items[first]["status"] == "stopped"
    assert items[second]["status"] == "running"  # the other one was not touched
    assert items[first]["container_name"] != items[second]["container_name"]
    for name in (first, second):
        assert agent.delete(f"/tools/{quote(name, safe='')}", headers=HEADERS).status_code == 200


@pytest.mark.e2e
def test_a_tool_is_found_by_its_container_name_too(agent, tool_image, suffix):
    name = f"Found By Container {suffix}"
    created = create(agent, tool_image, name)
    assert created.status_code == 201, created.text
    container_name = created.json()["container_name"]
    started = agent.post(f"/tools/{container_name}/start", headers=HEADERS)  # already running
    assert started.status_code == 200, started.text
    assert started.json()["instance_name_on_toolbox"] == name
    assert agent.delete(f"/tools/{container_name}", headers=HEADERS).status_code == 200


@pytest.mark.e2e
def test_tools_created_before_the_name_rule_keep_working(agent, docker_client, tool_image, suffix):
    # What the earlier agent made: container name == instance name, labels only.
    name = f"legacy-tool-{suffix}"
    legacy = docker_client.containers.run(
        tool_image,
        name=name,
        detach=True,
        labels={MANAGED_BY: "dtma", INSTANCE_NAME: name, INSTANCE_ID: "ati-legacy"},
    )
    items = agent.get("/status", headers=HEADERS).json()["tool_instances"]
    assert any(i["container_id"] == legacy.id and i["status"] == "running" for i in items)
    assert agent.post(f"/tools/{name}/stop", headers=HEADERS).json()["status"] == "stopped"
    assert agent.post(f"/tools/{name}/start", headers=HEADERS).json()["status"] == "running"
    assert agent.delete(f"/tools/{name}", headers=HEADERS).status_code == 200
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(legacy.id)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "name",
    ["dtma", "dtma-previous", "dtma-candidate", "dtma_manager", "agentopia_backend", "DTMA Next"],
)
def test_reserved_names_are_refused_and_nothing_is_created(agent, docker_client, tool_image, name):
    response = create(agent, tool_image, name)
    assert response.status_code == 409, response.text
    assert "reserved" in response.json()["error"]
    made = docker_client.containers.list(all=True, filters={"label": f"{INSTANCE_NAME}={name}"})
    assert made == []


@pytest.mark.e2e
def test_an_instance_name_in_use_is_409(agent, tool_image, suffix):
    name = f"Twice Typed {suffix}"
    assert create(agent, tool_image, name).status_code == 201
    again = create(agent, tool_image, name)
    assert again.status_code == 409
    assert "already in use" in again.json()["error"]
