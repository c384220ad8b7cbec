"""The real agent process: `python -m dtma` as the droplet runs it."""

from __future__ import annotations

import jsonschema
import pytest
import requests

from dtma.contract import FULL_STATUS_SCHEMA
from tests.agent.conftest import BACKEND_KEY, DROPLET_TOKEN, auth, start_agent, stop_agent
from tests.support.backend import BackendStandIn


def test_no_environment_at_all_still_serves_and_stops_cleanly(tmp_path):
    # Crash-loop bug #2: a missing setting must never stop the process from listening.
    agent = start_agent({}, tmp_path / "agent.log")
    try:
        assert requests.get(f"{agent.base_url}/health", timeout=10).json() == {"status": "ok"}
        # /health answers while the app still loads; /status waits for it (a second or more).
        body = requests.get(f"{agent.base_url}/status", timeout=30).json()
        assert body["status"] == "misconfigured"
        assert set(body["missing"]) == {
            "DTMA_BEARER_TOKEN",
            "BACKEND_TO_DTMA_API_KEY",
            "AGENTOPIA_API_BASE_URL",
        }
    finally:
        code = stop_agent(agent)
    assert code == 0, agent.log()  # SIGTERM: graceful stop, exit 0 (not 143, not SIGKILL)
    assert "Traceback" not in agent.log()


def agent_env(backend: BackendStandIn, **extra: str) -> dict[str, str]:
    """A fully configured agent whose heartbeat goes to the stand-in."""
    return {
        "DTMA_BEARER_TOKEN": DROPLET_TOKEN,
        "BACKEND_TO_DTMA_API_KEY": BACKEND_KEY,
        "AGENTOPIA_API_BASE_URL": backend.api_base_url,
        **extra,
    }


@pytest.mark.e2e
def test_status_answers_while_the_heartbeat_receiver_hangs(tmp_path):
    with BackendStandIn(droplet_token=DROPLET_TOKEN, backend_key=BACKEND_KEY) as backend:
        backend.heartbeat_mode = "hang"
        agent = start_agent(
            agent_env(backend, HEARTBEAT_INTERVAL_SECONDS="1"), tmp_path / "agent.log"
        )
        try:
            backend.wait_for_heartbeats(1)
            session = requests.Session()
            for _ in range(50):
                # Each request must finish within its own client timeout (raises otherwise).
                response = session.get(
                    f"{agent.base_url}/status", headers=auth(BACKEND_KEY), timeout=2
                )
                assert response.status_code == 200
                jsonschema.validate(response.json(), FULL_STATUS_SCHEMA)
        finally:
            code = stop_agent(agent)
    assert code == 0, agent.log()
    log = agent.log()
    assert BACKEND_KEY not in log and DROPLET_TOKEN not in log
    assert '"path": "/status"' in log


@pytest.mark.e2e
def test_refresh_status_through_the_backend_updates_tool_statuses(tmp_path, tool_image, tool_name):
    """The user's "refresh status" button: 200 and the instance's status, not the old 500."""
    with BackendStandIn(droplet_token=DROPLET_TOKEN, backend_key=BACKEND_KEY) as backend:
        agent = start_agent(agent_env(backend, DTMA_VERSION="rev-test-1"), tmp_path / "agent.log")
        try:
            body = {
                "dockerImageUrl": tool_image,
                "instanceNameOnToolbox": tool_name,
                "accountToolInstanceId": "ati-refresh",
            }
            created = requests.post(
                f"{agent.base_url}/tools", json=body, headers=auth(BACKEND_KEY), timeout=30
            )
            assert created.status_code == 201, created.text
            backend.add_toolbox(
                "tb-1",
                agent_port=int(agent.base_url.rsplit(":", 1)[1]),
                instance_ids=("ati-refresh",),
            )
            refreshed = requests.post(
                backend.refresh_url("tb-1"), json={}, headers=auth(backend.user_jwt), timeout=15
            )
            assert refreshed.status_code == 200, refreshed.text
            row = refreshed.json()
            assert row["status"] == "active"
            assert row["dtma_last_known_version"] == "rev-test-1"
            assert row["dtma_health_details_json"]["hasApiKey"] is True
            assert backend.instance_status("ati-refresh") == "running"

            stopped = requests.post(
                f"{agent.base_url}/tools/{tool_name}/stop", headers=auth(BACKEND_KEY), timeout=30
            )
            assert stopped.status_code == 200, stopped.text
            refreshed = requests.post(
                backend.refresh_url("tb-1"), json={}, headers=auth(backend.user_jwt), timeout=15
            )
            assert refreshed.status_code == 200, refreshed.text
            # Docker says "exited"; the backend's mapper would read that as error.
            assert backend.instance_status("ati-refresh") == "stopped"
        finally:
            code = stop_agent(agent)
    assert code == 0, agent.log()
