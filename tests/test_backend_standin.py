"""The backend stand-in must itself follow the contract, or tests built on it prove nothing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.support.backend import BackendStandIn


@pytest.fixture
def backend():
    with BackendStandIn(droplet_token="tok-droplet", backend_key="key-backend") as b:
        yield b


def fake_agent(status: int, body: bytes):
    """A loopback HTTP server answering GET /status with a fixed reply; records the auth header
    ("" when none was sent)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def refresh(backend: BackendStandIn, body: dict) -> tuple[requests.Response, list[str]]:
    agent, seen = fake_agent(200, json.dumps(body).encode())
    backend.add_toolbox("tb-1", agent_port=agent.server_address[1])
    try:
        resp = requests.post(
            backend.refresh_url("tb-1"),
            json={},
            headers={"Authorization": f"Bearer {backend.user_jwt}"},
        )
    finally:
        agent.shutdown()
    return resp, seen


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("running", "running"),
        ("Stopped", "stopped"),
        ("pending", "deploying"),
        ("starting", "deploying"),
        ("stopping", "deploying"),
        ("error", "error"),
        ("exited", "error"),  # Docker's word: the backend's mapper does not know it
        ("created", "error"),
        ("restarting", "error"),
        ("dead", "error"),
        (None, "error"),
    ],
)
def test_refresh_maps_item_statuses_through_the_backend_mapper(backend, word, expected):
    resp, _ = refresh(
        backend,
        {"version": "1", "tool_instances": [{"account_tool_instance_id": "a", "status": word}]},
    )
    assert resp.status_code == 200
    assert backend.instance_status("a") == expected


def test_tool_list_calls_the_public_status_without_credentials(backend):
    body = {
        "status": "healthy",
        "tool_instances": [
            {
                "account_tool_instance_id": "ati-1",
                "container_id": "c0ffee",
                "instance_name_on_toolbox": "Context7 MCP Server-1750",
                "status": "stopped",
                "image": "img:1",
                "created": 1750000000,
            }
        ],
    }
    agent, seen = fake_agent(200, json.dumps(body).encode())
    backend.add_toolbox("tb-1", agent_port=agent.server_address[1])
    try:
        resp = requests.get(
            backend.tool_list_url("tb-1"), headers={"Authorization": f"Bearer {backend.user_jwt}"}
        )
    finally:
        agent.shutdown()
    assert resp.status_code == 200
    assert resp.json() == [
        {
            "container_id": "c0ffee",
            "instance_name_on_toolbox": "Context7 MCP Server-1750",
            "status": "stopped",
            "image": "img:1",
            "created_ms": 1750000000000,
        }
    ]
    assert seen == [""]  # no Authorization header at all


def test_heartbeat_answers_204_401_400(backend):
    url = f"{backend.api_base_url}/heartbeat"
    ok = requests.post(
        url, json={"dtma_version": "1"}, headers={"Authorization": "Bearer tok-droplet"}
    )
    bad_token = requests.post(url, json={}, headers={"Authorization": "Bearer nope"})
    bad_json = requests.post(url, data=b"{", headers={"Authorization": "Bearer tok-droplet"})
    assert (ok.status_code, bad_token.status_code, bad_json.status_code) == (204, 401, 400)
    assert [h.body for h in backend.heartbeats] == [{"dtma_version": "1"}, {}, None]


def test_heartbeat_error_mode_answers_500(backend):
    backend.heartbeat_mode = "error"
    resp = requests.post(
        f"{backend.api_base_url}/heartbeat",
        json={},
        headers={"Authorization": "Bearer tok-droplet"},
    )
    assert resp.status_code == 500


def test_refresh_updates_row_and_instances_from_one_status_call(backend):
    body = {
        "status": "healthy",
        "version": "abc123",
        "environment": {"hasApiKey": True},
        "tool_instances": [
            {"account_tool_instance_id": "ati-1", "status": "stopped"},
            {"status": "running"},  # no account_tool_instance_id: ignored
        ],
    }
    resp, seen = refresh(backend, body)
    assert resp.status_code == 200
    row = resp.json()
    assert row["status"] == "active"
    assert row["dtma_last_known_version"] == "abc123"
    assert row["dtma_health_details_json"] == {"hasApiKey": True}
    assert row["last_heartbeat_at"]
    assert backend.instance_status("ati-1") == "stopped"
    assert seen == ["Bearer key-backend"]


@pytest.mark.parametrize(("status", "body"), [(403, b'{"error": "x"}'), (200, b"not json")])
def test_refresh_answers_500_when_the_agent_fails(backend, status, body):
    agent, seen = fake_agent(status, body)
    backend.add_toolbox("tb-1", agent_port=agent.server_address[1])
    try:
        resp = requests.post(
            backend.refresh_url("tb-1"),
            json={},
            headers={"Authorization": f"Bearer {backend.user_jwt}"},
        )
    finally:
        agent.shutdown()
    assert resp.status_code == 500
    assert "error" in resp.json()
    assert backend.toolbox_row("tb-1")["status"] == "unresponsive"
    assert len(seen) == 1  # single attempt, no retry


def test_refresh_answers_500_when_nothing_listens(backend):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        free_port = probe.server_address[1]
    backend.add_toolbox("tb-1", agent_port=free_port)
    resp = requests.post(
        backend.refresh_url("tb-1"),
        json={},
        headers={"Authorization": f"Bearer {backend.user_jwt}"},
    )
    assert resp.status_code == 500
    assert "Failed to refresh" in resp.json()["error"]


def test_refresh_of_unknown_toolbox_is_a_500(backend):
    resp = requests.post(
        backend.refresh_url("nope"),
        json={},
        headers={"Authorization": f"Bearer {backend.user_jwt}"},
    )
    assert resp.status_code == 500
