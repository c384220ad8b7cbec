"""/status shapes, validated against the schema of what the backend reads (dtma.contract)."""

from __future__ import annotations

import jsonschema
import pytest
from fastapi.testclient import TestClient

from dtma import __version__
from dtma.app import create_app
from dtma.config import Settings
from dtma.contract import FULL_STATUS_SCHEMA, PUBLIC_STATUS_SCHEMA
from tests.agent.conftest import (
    BACKEND_KEY,
    DROPLET_TOKEN,
    NO_DOCKER,
    auth,
    settings_for,
    unreachable_docker,
)


def test_public_summary_shape(offline_client):
    body = offline_client.get("/status").json()
    jsonschema.validate(body, PUBLIC_STATUS_SCHEMA)
    assert body["service"] == "DTMA"
    assert body["version"] == body["dtma_version"] == __version__


def test_full_report_when_docker_is_down_is_degraded_with_reason(offline_client):
    response = offline_client.get("/status", headers=auth(BACKEND_KEY))
    assert response.status_code == 200
    body = response.json()
    jsonschema.validate(body, FULL_STATUS_SCHEMA)
    assert body["status"] == "degraded"
    assert "Docker engine unreachable" in body["reason"]
    assert body["tool_instances"] == []


def test_the_public_summary_says_degraded_without_dockers_words(offline_client):
    body = offline_client.get("/status").json()
    jsonschema.validate(body, PUBLIC_STATUS_SCHEMA)
    assert body["status"] == "degraded" and "reason" not in body
    assert "unreachable" not in str(body)


def test_docker_host_variable_is_respected(monkeypatch, settings):
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    client = TestClient(create_app(settings, heartbeat=False))
    body = client.get("/status", headers=auth(DROPLET_TOKEN)).json()
    assert body["status"] == "degraded"
    assert "nonexistent" in body["reason"] or "No such file" in body["reason"]
    tools = client.get("/tools", headers=auth(DROPLET_TOKEN))
    assert tools.status_code == 503
    assert tools.json()["error"].startswith("Docker engine unreachable")


def test_misconfigured_lists_missing_names_never_values():
    client = TestClient(
        create_app(settings_for(AGENTOPIA_API_BASE_URL=""), unreachable_docker, heartbeat=False)
    )
    body = client.get("/status", headers=auth(BACKEND_KEY)).json()
    jsonschema.validate(body, FULL_STATUS_SCHEMA)
    assert body["status"] == "misconfigured"
    assert body["missing"] == ["AGENTOPIA_API_BASE_URL"]
    assert body["environment"] == {
        "hasAuthToken": True,
        "hasApiKey": True,
        "hasApiBaseUrl": False,
        "port": 30000,
    }
    assert BACKEND_KEY not in str(body) and DROPLET_TOKEN not in str(body)


def test_nothing_configured_still_serves():
    client = TestClient(create_app(Settings.from_env({}), heartbeat=False))
    assert client.get("/health").json() == {"status": "ok"}
    body = client.get("/status").json()
    jsonschema.validate(body, PUBLIC_STATUS_SCHEMA)
    assert body["status"] == "misconfigured"
    assert body["missing"] == [
        "DTMA_BEARER_TOKEN",
        "BACKEND_TO_DTMA_API_KEY",
        "AGENTOPIA_API_BASE_URL",
    ]
    refused = client.get("/tools", headers=auth("anything"))
    assert refused.status_code == 503
    assert "BACKEND_TO_DTMA_API_KEY" in refused.json()["error"]


def test_bad_numbers_are_reported_not_fatal():
    settings = settings_for(PORT="3o000", HEARTBEAT_INTERVAL_SECONDS="-1")
    assert settings.port == 30000
    assert settings.heartbeat_interval == 60.0
    body = TestClient(create_app(settings, heartbeat=False)).get("/status").json()
    assert body["status"] == "misconfigured"
    assert body["invalid"] == ["PORT", "HEARTBEAT_INTERVAL_SECONDS"]


def test_version_comes_from_dtma_version_when_set(offline_client):
    client = TestClient(create_app(settings_for(DTMA_VERSION="abc1234"), heartbeat=False))
    body = client.get("/status").json()
    assert body["version"] == body["dtma_version"] == "abc1234"


def test_settings_repr_hides_secrets(settings):
    assert BACKEND_KEY not in repr(settings)
    assert DROPLET_TOKEN not in repr(settings)


def test_schema_rejects_instances_the_backend_would_ignore():
    item = {
        "instance_name_on_toolbox": "tool-1",
        "container_id": "0123456789abcdef",
        "container_name": "tool-1",
        "status": "running",
        "docker_state": "running",
        "image": "x",
        "ports": {},
        "created": 1,
    }
    body = {
        "status": "healthy",
        "service": "DTMA",
        "version": "1",
        "dtma_version": "1",
        "uptime_seconds": 1,
        "environment": {"hasAuthToken": True, "hasApiKey": True, "hasApiBaseUrl": True, "port": 1},
        "system_metrics": {
            "cpu_load_percent": 1,
            "memory": {"total_bytes": 1, "used_bytes": 1, "free_bytes": 0},
            "disk": {"mount": "/", "total_bytes": 1, "used_bytes": 1, "free_bytes": 0},
            "uptime_seconds": 1,
        },
        "tool_instances": [item],
    }
    with pytest.raises(jsonschema.ValidationError, match="account_tool_instance_id"):
        jsonschema.validate(body, FULL_STATUS_SCHEMA)
    jsonschema.validate(
        {**body, "tool_instances": [{**item, "account_tool_instance_id": "a"}]}, FULL_STATUS_SCHEMA
    )


@pytest.mark.e2e
def test_full_report_against_the_real_engine_is_healthy(client):
    body = client.get("/status", headers=auth(BACKEND_KEY)).json()
    jsonschema.validate(body, FULL_STATUS_SCHEMA)
    assert body["status"] == "healthy"
    memory, disk = body["system_metrics"]["memory"], body["system_metrics"]["disk"]
    assert memory["used_bytes"] + memory["free_bytes"] == memory["total_bytes"] > 0
    assert 0 < disk["free_bytes"] <= disk["total_bytes"]
