"""Faults 1 and 2: the droplet reboots, the agent's process is killed. Nobody acts; it all
comes back: the same agent version, and the tool containers it manages."""

from __future__ import annotations

import time

import pytest
import requests

from tasks import sandbox
from tests.faults.support import KEY, load_image, record, seconds_until_healthy
from tests.support.deploy import inspect, public_version
from tests.support.readiness import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TOOL = "fault-reboot-tool"
AUTH = {"Authorization": f"Bearer {KEY}"}


def tool_states(box: sandbox.Sandbox) -> dict[str, str]:
    body = requests.get(f"{box.agent_url}/status", headers=AUTH, timeout=5).json()
    return {item["instance_name_on_toolbox"]: item["status"] for item in body["tool_instances"]}


@pytest.fixture(scope="module")
def managed_tool(host, tool_image) -> str:
    """A tool container created through the agent's own API, as the backend would."""
    load_image(host.box, tool_image)
    body = {
        "dockerImageUrl": tool_image,
        "instanceNameOnToolbox": TOOL,
        "accountToolInstanceId": "ati-fault-reboot",
    }
    created = requests.post(f"{host.box.agent_url}/tools", json=body, headers=AUTH, timeout=30)
    assert created.status_code == 201, created.text
    assert tool_states(host.box)[TOOL] == "running"
    return TOOL


def test_reboot_brings_the_agent_and_its_tools_back(host, managed_tool):
    version = public_version(host.box)
    started = time.monotonic()
    sandbox.reboot(host.box.name)
    ssh_back = time.monotonic() - started
    recovery = seconds_until_healthy(host.box.agent_url, started)
    assert public_version(host.box) == version
    running = lambda: tool_states(host.box).get(managed_tool) == "running"  # noqa: E731
    wait_until(running, f"tool {managed_tool} running again", poll=0.2)
    host.smoke()
    print(f"\nreboot: SSH after {ssh_back:.1f} s, /health after {recovery:.1f} s")
    record("reboot", recovery_seconds=recovery, ssh_seconds=round(ssh_back, 2))


def test_killed_agent_process_is_restarted_by_docker(host):
    before = inspect(host.box, "dtma")
    version = public_version(host.box)
    killed = host.sh("kill -9 $(docker inspect -f '{{.State.Pid}}' dtma)")
    assert killed.returncode == 0, killed.stderr
    started = time.monotonic()
    recovery = seconds_until_healthy(host.box.agent_url, started)
    after = inspect(host.box, "dtma")
    assert after["Id"] == before["Id"]  # the same container, restarted by its policy
    assert after["RestartCount"] == before["RestartCount"] + 1
    assert public_version(host.box) == version
    host.smoke()
    print(f"\nSIGKILL: /health after {recovery:.2f} s")
    record("agent crash (SIGKILL)", recovery_seconds=recovery)
