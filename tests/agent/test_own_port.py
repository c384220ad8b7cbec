"""Ports the agent keeps: its own (Agentopia's start path re-deploys a missing tool there) and
its next release's check port (a tool there would be handed the deploy's credentials). A
binding to either gets another port."""

from __future__ import annotations

import time

import pytest
import requests

from dtma.models import CreateToolRequest
from dtma.port_bindings import requested_bindings, reserved_ports
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


def test_only_the_ports_the_agent_keeps_are_moved():
    body = request_for("t", "img:1", "30000")
    bindings = body["baseConfigOverrideJson"]["HostConfig"]["PortBindings"]
    bindings["9090/udp"] = [{"HostPort": "7"}]
    bindings["9091/tcp"] = [{"HostPort": "30001"}, {"HostPort": "30002"}]
    requested = requested_bindings(CreateToolRequest(**body), reserved_ports(30000, None))
    assert requested.bindings == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "9090/udp": [{"HostIp": "", "HostPort": "7"}],
        "9091/tcp": [{"HostIp": "", "HostPort": ""}, {"HostIp": "", "HostPort": "30002"}],
    }
    assert requested.moved == {"8080/tcp": [30000], "9091/tcp": [30001]}


def test_the_check_port_a_deploy_set_is_kept_too():
    assert reserved_ports(30000, 31001) == {30000, 31001, 30001}
    assert reserved_ports(3030, None) == {3030, 30001}


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
        f"8080/tcp: host port {own_port} is kept for the agent (its own port and its next "
        f"release's check port); published on 127.0.0.1:{binding['HostPort']} instead"
    ]
    # The tool really serves there (busybox httpd: 404 for "/"), and the agent still answers.
    assert first_http_status(f"http://127.0.0.1:{binding['HostPort']}/") == 404
    assert requests.get(f"{agent.base_url}/health", timeout=10).status_code == 200


@pytest.mark.e2e
def test_a_tool_never_gets_the_check_port_a_release_is_checked_on(agent, tool_image, tool_name):
    """A tool on 30001 would be taken for the next release by a deploy, and handed the backend
    key (it answered there first): it is published elsewhere."""
    created = requests.post(
        f"{agent.base_url}/tools",
        json=request_for(tool_name, tool_image, "30001"),
        headers=HEADERS,
        timeout=60,
    )
    assert created.status_code == 201, created.text
    [binding] = created.json()["ports"]["8080/tcp"]
    assert binding["HostPort"] not in ("", "30001")
    assert "host port 30001 is kept for the agent" in created.json()["warnings"][0]
