"""The backend's status words everywhere (full report, public report, heartbeat), and the public
tool list with exactly the fields the backend's list reads."""

from __future__ import annotations

import time

import jsonschema
import pytest

from dtma import contract, tool_views
from dtma.contract import (
    BACKEND_STATUS_WORDS,
    FULL_STATUS_SCHEMA,
    HEARTBEAT_SCHEMA,
    PUBLIC_STATUS_SCHEMA,
    PUBLIC_TOOL_FIELDS,
)
from dtma.heartbeat import Heartbeat
from dtma.tool_views import BACKEND_STATUS, backend_status
from dtma.tools import ToolStore
from smoke_tests.backend_refresh import instance_status
from tests.agent.conftest import BACKEND_KEY, DROPLET_TOKEN, auth, settings_for
from tests.support.backend import BackendStandIn

HEADERS = auth(BACKEND_KEY)
DOCKER_STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")


@pytest.mark.parametrize(
    ("docker_state", "word"),
    [
        ("running", "running"),
        ("exited", "stopped"),
        ("paused", "stopped"),
        ("created", "pending"),
        ("restarting", "starting"),
        ("removing", "stopping"),
        ("dead", "error"),
        ("something-new", "error"),
        (None, "error"),
    ],
)
def test_every_docker_state_maps_to_a_backend_word(docker_state, word):
    assert backend_status(docker_state) == word


def test_each_docker_state_is_mapped_deliberately():
    assert set(BACKEND_STATUS) == set(DOCKER_STATES)
    assert set(BACKEND_STATUS.values()) <= set(BACKEND_STATUS_WORDS)


def create(client, image: str, name: str, instance_id: str) -> dict:
    body = {
        "dockerImageUrl": image,
        "instanceNameOnToolbox": name,
        "accountToolInstanceId": instance_id,
    }
    response = client.post("/tools", json=body, headers=HEADERS)
    assert response.status_code == 201, response.text
    return response.json()


def item_of(body: dict, instance_id: str) -> dict:
    return next(i for i in body["tool_instances"] if i["account_tool_instance_id"] == instance_id)


@pytest.mark.e2e
def test_a_stopped_tool_is_stopped_in_full_and_public_report_and_heartbeat(
    client, tool_image, tool_name
):
    created = create(client, tool_image, tool_name, "ati-stopped")
    stopped = client.post(f"/tools/{tool_name}/stop", headers=HEADERS)
    assert stopped.status_code == 200, stopped.text
    assert (stopped.json()["status"], stopped.json()["state"]) == ("stopped", "exited")

    full = client.get("/status", headers=HEADERS).json()
    jsonschema.validate(full, FULL_STATUS_SCHEMA)
    item = item_of(full, "ati-stopped")
    assert (item["status"], item["docker_state"]) == ("stopped", "exited")

    public = client.get("/status").json()
    jsonschema.validate(public, PUBLIC_STATUS_SCHEMA)
    assert item_of(public, "ati-stopped")["status"] == "stopped"

    with BackendStandIn(droplet_token=DROPLET_TOKEN, backend_key=BACKEND_KEY) as backend:
        settings = settings_for(AGENTOPIA_API_BASE_URL=backend.api_base_url)
        beat = Heartbeat(settings, ToolStore(), time.monotonic())
        beat.start()
        try:
            received = backend.wait_for_heartbeats(1, timeout=30)[0]
        finally:
            beat.stop()
    jsonschema.validate(received.body, HEARTBEAT_SCHEMA)
    ours = [
        t for t in received.body["tool_statuses"] if t["account_tool_instance_id"] == "ati-stopped"
    ]
    assert [t["status_on_toolbox"] for t in ours] == ["stopped"]
    assert ours[0]["runtime_details"]["container_id"] == created["container_id"]


@pytest.mark.e2e
def test_public_status_lists_tools_with_exactly_the_lists_fields(client, tool_image, tool_name):
    created = create(client, tool_image, tool_name, "ati-public")
    response = client.get("/status")  # no Authorization header, as the backend's list calls it
    assert response.status_code == 200
    body = response.json()
    jsonschema.validate(body, PUBLIC_STATUS_SCHEMA)
    item = item_of(body, "ati-public")
    assert set(item) == set(PUBLIC_TOOL_FIELDS)
    assert item == {
        "account_tool_instance_id": "ati-public",
        "container_id": created["container_id"],
        "instance_name_on_toolbox": tool_name,
        "status": "running",
        "image": tool_image,
        "created": item["created"],
    }
    assert abs(item["created"] - time.time()) < 600  # Unix seconds, not milliseconds
    assert "environment" not in body and "system_metrics" not in body


@pytest.mark.e2e
def test_paused_is_stopped_and_start_unpauses(client, docker_client, tool_image, tool_name):
    created = create(client, tool_image, tool_name, "ati-paused")
    docker_client.containers.get(created["container_id"]).pause()
    item = item_of(client.get("/status", headers=HEADERS).json(), "ati-paused")
    assert (item["status"], item["docker_state"]) == ("stopped", "paused")
    started = client.post(f"/tools/{tool_name}/start", headers=HEADERS)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running"


@pytest.mark.e2e
def test_a_created_but_never_started_container_is_pending(
    client, docker_client, tool_image, tool_name
):
    created = create(client, tool_image, tool_name, "ati-pending")
    container = docker_client.containers.get(created["container_id"])
    container.remove(force=True)
    again = docker_client.containers.create(tool_image, name=tool_name, labels=container.labels)
    item = item_of(client.get("/status", headers=HEADERS).json(), "ati-pending")
    assert (item["status"], item["docker_state"]) == ("pending", "created")
    assert item["container_id"] == again.id


@pytest.mark.parametrize("state", [*tool_views.HEARTBEAT_STATUS, "unknown", None])
def test_the_heartbeat_sends_only_words_of_the_enum_column(state):
    """Agentopia writes `status_on_toolbox` as received into an enum column; it has no
    `pending`. The word is the one refresh-status's mapper writes for the same state."""
    word = tool_views.heartbeat_status(state)
    assert word in contract.INSTALLATION_STATUSES
    assert word == instance_status(tool_views.backend_status(state))


def test_pending_is_no_word_of_the_enum():
    assert "pending" not in contract.INSTALLATION_STATUSES
    assert len(contract.INSTALLATION_STATUSES) == 20
