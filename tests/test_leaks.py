"""The end-of-run leak check finds what a run left behind: its agents, containers and volumes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.support import leaks
from tests.support.readiness import wait_until


def test_an_agent_started_by_this_run_is_found_and_killed(tmp_path):
    run_id = uuid.uuid4().hex
    env = {**os.environ, leaks.RUN_MARKER: run_id, "PORT": "0"}
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    agent = subprocess.Popen(
        [sys.executable, "-m", "dtma"], env={**env, "PYTHONPATH": repo}, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(
            lambda: agent.pid in leaks.agent_processes(run_id), "the agent seen", deadline=30
        )
        assert leaks.agent_processes(uuid.uuid4().hex) == []  # another run's id: not ours
        found = leaks.leaks(run_id, None, None)
        assert found == [f"agent process {agent.pid} (python -m dtma) still running: killed"]
        assert agent.wait(timeout=30) == -9
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()


@pytest.mark.e2e
def test_a_container_and_a_volume_made_after_the_snapshot_are_named(docker_client, tool_image):
    before = leaks.EngineSnapshot.take(docker_client)
    name = f"dtma-test-leak-{uuid.uuid4().hex[:8]}"
    volume = docker_client.volumes.create(name)
    container = docker_client.containers.create(tool_image, name=name)
    try:
        found = leaks.leaks(uuid.uuid4().hex, before, docker_client)
        assert f"container {name} (created) still there" in found
        assert f"volume {name} still there" in found
    finally:
        container.remove(force=True)
        volume.remove(force=True)
    after = leaks.leaks(uuid.uuid4().hex, before, docker_client)
    assert [line for line in after if name in line] == []
