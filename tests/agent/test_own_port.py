"""Agentopia's start path re-deploys a missing tool on the agent's own port: it gets another one."""

from __future__ import annotations

import time

import pytest
import requests

from dtma.models import CreateToolRequest
from dtma.port_bindings import requested_bindings
from tests.agent.conftest import BACKEND_KEY, auth

HEADERS = auth(BACKEND_KEY)


def request_for(name: str, image: str, host_port: str, host_ip: str = "127.0.0.1") -> dict:
    return {
        "dockerImageUrl": image,
        "instanceNameOnToolbox": name,
        "accountToolInstanceId": f"ati-{name}",
        "baseConfigOverrideJson": {
            "HostConfig": {
                "PortBindings": {"8080/tcp": [{"HostIp": host_ip, "HostPort": host_port}]}
            }
        },
    }


def test_only_the_agents_own_port_is_moved():
    body = request_for("t", "img:1", "30000")
    body["baseConfigOverrideJson"]["HostConfig"]["PortBindings"]["9090/udp"] = [{"HostPort": "7"}]
    requested = requested_bindings(CreateToolRequest(**body), agent_port=30000)
    assert requested.bindings == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "9090/udp": [{"HostIp": "", "HostPort": "7"}],
    }
    assert requested.moved_off_agent_port == ["8080/tcp"]


def first_http_status(url: str) -> int:
    deadline = time.monotonic() + 30
    while True:
        try:
            return requests.get(url, timeout=5).status_code
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.e2e
def test_a_binding_to_the_agents_own_port_is_published_elsewhere_with_a_warning(
    agent, tool_image, tool_name
):
    own_port = agent.base_url.rsplit(":", 1)[1]
    created = requests.post(
        f"{agent.base_url}/tools",
        json=request_for(tool_name, tool_image, own_port),
        headers=HEADERS,
        timeout=60,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    [binding] = body["ports"]["8080/tcp"]
    assert binding["HostIp"] == "127.0.0.1"
    assert binding["HostPort"] not in ("", own_port)
    assert body["warnings"] == [
        f"8080/tcp: host port {own_port} is the agent's own port; "
        f"published on 127.0.0.1:{binding['HostPort']} instead"
    ]
    # The tool really serves there (busybox httpd: 404 for "/"), and the agent still answers.
    assert first_http_status(f"http://127.0.0.1:{binding['HostPort']}/") == 404
    assert requests.get(f"{agent.base_url}/health", timeout=10).status_code == 200
