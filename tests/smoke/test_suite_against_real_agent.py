"""The smoke suite against the real agent (`python -m dtma`) on a loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from tests.smoke.conftest import KEY, REPO, SmokeRun, free_port
from tests.support.backend import BackendStandIn
from tests.support.readiness import NotReady, wait_until_healthy

pytestmark = pytest.mark.e2e

RunSmoke = Callable[..., SmokeRun]
DROPLET_TOKEN = "smoke-droplet-token-5e1d"


class LocalAgent:
    """`python -m dtma` in its own process, talking to this machine's Docker engine."""

    def __init__(self, backend: BackendStandIn, workdir: Path):
        self.port = free_port()
        self.log = workdir / "dtma.log"
        env = {
            **os.environ,
            "DTMA_BEARER_TOKEN": DROPLET_TOKEN,
            "BACKEND_TO_DTMA_API_KEY": KEY,
            "AGENTOPIA_API_BASE_URL": backend.api_base_url,
            "PORT": str(self.port),
            "PYTHONPATH": str(REPO),  # the checkout's agent, whatever is installed
        }
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dtma"], cwd=workdir, env=env, stdout=log, stderr=log
            )

    def wait_until_serving(self) -> None:
        def exited() -> str | None:
            code = self.process.poll()
            return None if code is None else f"the agent exited with {code}"

        try:
            wait_until_healthy(f"http://127.0.0.1:{self.port}", gave_up=exited)
        except NotReady as exc:
            pytest.fail(f"{exc}:\n{self.log.read_text()}", pytrace=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def backend() -> Iterator[BackendStandIn]:
    with BackendStandIn(droplet_token=DROPLET_TOKEN, backend_key=KEY) as stand_in:
        yield stand_in


@pytest.fixture
def local_agent(
    backend: BackendStandIn, tmp_path: Path, docker_client: docker.DockerClient
) -> Iterator[LocalAgent]:
    agent = LocalAgent(backend, tmp_path)
    try:
        agent.wait_until_serving()
        # /health answers while the web stack still loads; the suite times /status against its
        # latency budget, so the app must be there first (a request meanwhile simply waits).
        wait_until_healthy(f"http://127.0.0.1:{agent.port}", path="/status")
        yield agent
    finally:
        agent.stop()


def smoke(run_smoke: RunSmoke, agent: LocalAgent, *args: str) -> SmokeRun:
    return run_smoke("--host", "127.0.0.1", "--port", str(agent.port), "--api-key", KEY, *args)


def test_the_real_agent_keeps_every_default_promise(
    run_smoke: RunSmoke, local_agent: LocalAgent
) -> None:
    run = smoke(run_smoke, local_agent)
    assert run.returncode == 0, run.output
    for promise in ("health", "status-contract", "auth", "refresh"):
        assert run.line_of(promise).split()[0] == "kept", run.output
    assert KEY not in run.output


def test_refresh_through_the_backend_reaches_the_real_agent(
    run_smoke: RunSmoke, local_agent: LocalAgent, backend: BackendStandIn
) -> None:
    backend.add_toolbox("tb-1", agent_host="127.0.0.1", agent_port=local_agent.port)
    refresh = ("--refresh-url", backend.refresh_url("tb-1"), "--user-jwt", backend.user_jwt)
    run = smoke(run_smoke, local_agent, *refresh, "-k", "refresh")
    assert run.returncode == 0, run.output
    assert backend.toolbox_row("tb-1")["status"] == "active"

    local_agent.stop()
    run = smoke(run_smoke, local_agent, *refresh, "-k", "refresh")
    assert run.returncode == 1, run.output
    assert "the frontend would show HTTP 500" in run.output
    assert "connection refused" in run.output
    assert backend.toolbox_row("tb-1")["status"] == "unresponsive"


def test_tool_lifecycle_through_the_real_agent_leaves_nothing_behind(
    run_smoke: RunSmoke,
    local_agent: LocalAgent,
    tool_image: str,
    docker_client: docker.DockerClient,
) -> None:
    run = smoke(
        run_smoke, local_agent, "--destructive", "--tool-image", tool_image, "-k", "lifecycle"
    )
    assert run.returncode == 0, run.output
    assert run.line_of("tool-lifecycle").split()[0] == "kept", run.output
    left = docker_client.containers.list(all=True, filters={"name": "smoke-tool-"})
    assert [c.name for c in left] == []
