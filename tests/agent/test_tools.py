"""Tool containers on the real Docker engine: lifecycle, restarts of the agent, refusals."""

from __future__ import annotations

import socket

import docker
import pytest
from fastapi.testclient import TestClient

from dtma.app import create_app
from dtma.tools import INSTANCE_ID, INSTANCE_NAME, MANAGED_BY
from tests.agent.conftest import BACKEND_KEY, DROPLET_TOKEN, auth, free_port, settings_for
from tests.support.readiness import answer, wait_until

pytestmark = pytest.mark.e2e
HEADERS = auth(BACKEND_KEY)


def create_body(image: str, name: str, host_port: int | None = None, **extra) -> dict:
    body = {
        "dockerImageUrl": image,
        "instanceNameOnToolbox": name,
        "accountToolInstanceId": extra.pop("ati", f"ati-{name}"),
    }
    if host_port is not None:
        body["baseConfigOverrideJson"] = {
            "Env": ["GREETING=hello world", "EMPTY="],
            "HostConfig": {
                "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]}
            },
        }
    return body


def http_status(url: str) -> int:
    """The first HTTP answer from a server that may still be starting."""
    return wait_until(lambda: answer(url), f"an HTTP answer from {url}").status_code


def listed(client: TestClient, name: str) -> dict | None:
    body = client.get("/status", headers=HEADERS).json()
    return next((t for t in body["tool_instances"] if t["instance_name_on_toolbox"] == name), None)


def test_lifecycle_create_status_stop_start_delete(client, docker_client, tool_image, tool_name):
    port = free_port()
    created = client.post("/tools", json=create_body(tool_image, tool_name, port), headers=HEADERS)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == body["status"] == "running"
    assert body["warnings"] == []
    assert body["instance_name_on_toolbox"] == body["container_name"] == tool_name
    assert body["account_tool_instance_id"] == f"ati-{tool_name}"
    assert body["ports"] == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}

    container = docker_client.containers.get(body["container_id"])
    assert container.labels[MANAGED_BY] == "dtma"
    assert container.labels[INSTANCE_NAME] == tool_name
    assert container.labels[INSTANCE_ID] == f"ati-{tool_name}"
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert "GREETING=hello world" in container.attrs["Config"]["Env"]
    # The tool really serves on the published loopback port (busybox httpd: 404 for "/").
    assert http_status(f"http://127.0.0.1:{port}/") == 404

    item = listed(client, tool_name)
    assert item["account_tool_instance_id"] == f"ati-{tool_name}"
    assert item["status"] == "running"
    assert item["container_id"] == body["container_id"]
    assert item["ports"]["8080/tcp"][0]["HostPort"] == str(port)

    stopped = client.post(f"/tools/{tool_name}/stop", headers=auth(DROPLET_TOKEN))
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["state"] == "exited"
    assert stopped.json()["status"] == "stopped"
    assert listed(client, tool_name)["status"] == "stopped"
    assert listed(client, tool_name)["docker_state"] == "exited"

    started = client.post(f"/tools/{tool_name}/start", headers=HEADERS)
    assert started.status_code == 200, started.text
    assert started.json()["state"] == started.json()["status"] == "running"

    deleted = client.delete(f"/tools/{tool_name}", headers=HEADERS)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["container_id"] == body["container_id"]
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(body["container_id"])
    assert listed(client, tool_name) is None
    assert client.delete(f"/tools/{tool_name}", headers=HEADERS).status_code == 404


def test_state_survives_a_new_agent(settings, docker_client, tool_image, tool_name):
    first = TestClient(create_app(settings, heartbeat=False))
    created = first.post("/tools", json=create_body(tool_image, tool_name), headers=HEADERS)
    assert created.status_code == 201, created.text

    # A fresh app knows nothing in memory: everything must come from Docker's labels.
    second = TestClient(create_app(settings, heartbeat=False))
    assert listed(second, tool_name)["account_tool_instance_id"] == f"ati-{tool_name}"
    assert second.get("/tools", headers=HEADERS).json()["tool_instances"]
    assert second.delete(f"/tools/{tool_name}", headers=HEADERS).status_code == 200


def test_name_with_control_characters_is_400_and_nothing_is_created(
    client, docker_client, tool_image
):
    before = len(docker_client.containers.list(all=True))
    response = client.post(
        "/tools", json=create_body(tool_image, "Context7\nMCP Server-1", ati="a"), headers=HEADERS
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error == "instanceNameOnToolbox is blank or contains control characters"
    assert len(docker_client.containers.list(all=True)) == before


def test_duplicate_name_is_409(client, tool_image, tool_name):
    assert (
        client.post("/tools", json=create_body(tool_image, tool_name), headers=HEADERS).status_code
        == 201
    )
    again = client.post("/tools", json=create_body(tool_image, tool_name), headers=HEADERS)
    assert again.status_code == 409
    assert "already in use" in again.json()["error"]


def test_host_port_in_use_is_409_and_leaves_nothing(client, docker_client, tool_image, tool_name):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        response = client.post(
            "/tools", json=create_body(tool_image, tool_name, port), headers=HEADERS
        )
    assert response.status_code == 409, response.text
    assert "port" in response.json()["error"]
    # Nothing half-made: the name is free for a retry.
    assert docker_client.containers.list(all=True, filters={"name": f"^/{tool_name}$"}) == []


def test_unpullable_image_is_502_with_dockers_reason(docker_client, tool_name):
    # A registry on loopback is refused unless named as a private one: this one is.
    settings = settings_for(DTMA_PRIVATE_REGISTRIES="127.0.0.1:1")
    client = TestClient(create_app(settings, heartbeat=False))
    body = create_body("127.0.0.1:1/nope:latest", tool_name)
    response = client.post("/tools", json=body, headers=HEADERS)
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert "127.0.0.1:1/nope:latest" in error
    assert "connection refused" in error.lower()
    assert docker_client.containers.list(all=True, filters={"name": f"^/{tool_name}$"}) == []


def test_unlabelled_container_is_never_touched(client, docker_client, tool_image, tool_name):
    foreign = docker_client.containers.run(tool_image, name=tool_name, detach=True)
    for method, path in (
        ("POST", f"/tools/{tool_name}/stop"),
        ("POST", f"/tools/{tool_name}/start"),
        ("DELETE", f"/tools/{tool_name}"),
    ):
        response = client.request(method, path, headers=HEADERS)
        assert response.status_code == 404, response.text
        assert "not managed by DTMA" in response.json()["error"]
    taken = client.post("/tools", json=create_body(tool_image, tool_name), headers=HEADERS)
    assert taken.status_code == 409
    foreign.reload()
    assert foreign.status == "running"
    assert listed(client, tool_name) is None


def test_a_tool_runs_bounded_and_a_droplet_takes_only_so_many(docker_client, tool_image, tool_name):
    """Memory (no swap beyond), processes, rotated logs, no new privileges; past DTMA_MAX_TOOLS
    a create is 409 and nothing is made."""
    running = len(docker_client.containers.list(all=True, filters={"label": MANAGED_BY}))
    settings = settings_for(DTMA_TOOL_MEMORY_MB="128", DTMA_MAX_TOOLS=str(running + 1))
    client = TestClient(create_app(settings, heartbeat=False))
    created = client.post("/tools", json=create_body(tool_image, tool_name), headers=HEADERS)
    assert created.status_code == 201, created.text
    host = docker_client.containers.get(created.json()["container_id"]).attrs["HostConfig"]
    assert host["Memory"] == host["MemorySwap"] == 128 * 1024 * 1024
    assert host["PidsLimit"] == 512
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-file": "3", "max-size": "10m"},
    }
    assert host["SecurityOpt"] == ["no-new-privileges"]
    one_more = client.post(
        "/tools", json=create_body(tool_image, f"{tool_name}-2"), headers=HEADERS
    )
    assert one_more.status_code == 409 and "DTMA_MAX_TOOLS" in one_more.json()["error"]
    assert docker_client.containers.list(all=True, filters={"name": f"^/{tool_name}-2$"}) == []
