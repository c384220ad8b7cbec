"""Every failure is JSON `{"error": ...}`; a bug is a 500 with a request id, traceback logged."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from dtma.app import create_app
from tests.agent.conftest import BACKEND_KEY, auth, settings_for


def test_unknown_path_is_json_404(offline_client):
    response = offline_client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_wrong_method_is_json(offline_client):
    response = offline_client.put("/health")
    assert response.status_code == 405
    assert set(response.json()) == {"error"}


def test_missing_field_is_400_naming_it(offline_client):
    body = {"dockerImageUrl": "x:1", "instanceNameOnToolbox": "tool-1"}
    response = offline_client.post("/tools", json=body, headers=auth(BACKEND_KEY))
    assert response.status_code == 400
    assert response.json() == {"error": "missing field: accountToolInstanceId"}


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "at least 1 character"), ("   ", "is blank"), ("x" * 201, "at most 200 characters")],
)
def test_unusable_name_in_body_is_400_naming_the_problem(offline_client, name, problem):
    body = {"dockerImageUrl": "x:1", "instanceNameOnToolbox": name, "accountToolInstanceId": "a"}
    response = offline_client.post("/tools", json=body, headers=auth(BACKEND_KEY))
    assert response.status_code == 400
    assert problem in response.json()["error"]


def test_control_characters_in_path_name_are_400_before_docker(offline_client):
    # The engine is unreachable here: a 400 (not 503) proves Docker was never asked.
    response = offline_client.post("/tools/bad%07name/stop", headers=auth(BACKEND_KEY))
    assert response.status_code == 400
    assert "control characters" in response.json()["error"]


def test_env_entries_must_be_key_value(offline_client):
    body = {
        "dockerImageUrl": "x:1",
        "instanceNameOnToolbox": "tool-1",
        "accountToolInstanceId": "ati-1",
        "baseConfigOverrideJson": {"Env": ["SECRET_VALUE_NO_EQUALS"]},
    }
    response = offline_client.post("/tools", json=body, headers=auth(BACKEND_KEY))
    assert response.status_code == 400
    assert "SECRET_VALUE_NO_EQUALS" not in response.text  # input values are never echoed


def test_host_port_out_of_range_is_400_before_docker(offline_client):
    body = {
        "dockerImageUrl": "x:1",
        "instanceNameOnToolbox": "tool-1",
        "accountToolInstanceId": "ati-1",
        "baseConfigOverrideJson": {
            "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "99482"}]}}
        },
    }
    response = offline_client.post("/tools", json=body, headers=auth(BACKEND_KEY))
    assert response.status_code == 400
    assert "HostPort" in response.json()["error"]


def test_bug_becomes_500_with_request_id_and_logged_traceback(caplog):
    app = create_app(settings_for(), heartbeat=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom-detail")

    with caplog.at_level(logging.INFO, logger="dtma"):
        response = TestClient(app).get("/boom", headers=auth(BACKEND_KEY))
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal error"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "kaboom" not in response.text
    assert "kaboom-detail" in caplog.text  # the traceback went to the log
    assert BACKEND_KEY not in caplog.text  # and the Authorization header did not


def test_one_log_line_per_request_without_secrets(offline_client, caplog):
    with caplog.at_level(logging.INFO, logger="dtma.request"):
        offline_client.get("/status?token=abc", headers=auth(BACKEND_KEY))
    lines = [r.getMessage() for r in caplog.records if r.name == "dtma.request"]
    assert len(lines) == 1
    for field in ('"method": "GET"', '"path": "/status"', '"status": 200', '"ms"', "request_id"):
        assert field in lines[0]
    assert BACKEND_KEY not in lines[0] and "abc" not in lines[0]
