"""Fixtures for the agent's tests: settings, in-process apps, a real agent process, cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from fastapi.testclient import TestClient

from dtma.app import create_app
from dtma.config import Settings
from tests.support.leaks import RUN_MARKER
from tests.support.ports import free_port
from tests.support.readiness import wait_until_healthy

BACKEND_KEY = "key-backend-5e0c7a"
DROPLET_TOKEN = "tok-droplet-91bd44"
REPO = Path(__file__).resolve().parents[2]
NO_DOCKER = "unix:///nonexistent/dtma-test-docker.sock"


def settings_for(**overrides: str) -> Settings:
    env = {
        "DTMA_BEARER_TOKEN": DROPLET_TOKEN,
        "BACKEND_TO_DTMA_API_KEY": BACKEND_KEY,
        "AGENTOPIA_API_BASE_URL": "http://127.0.0.1:9/functions/v1",
        **overrides,
    }
    return Settings.from_env({k: v for k, v in env.items() if v is not None})


def unreachable_docker(timeout: float) -> docker.DockerClient:
    """A real client pointed at a socket that does not exist: the engine is 'down'."""
    return docker.DockerClient(base_url=NO_DOCKER, timeout=timeout)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def settings() -> Settings:
    return settings_for()


@pytest.fixture
def offline_client(settings: Settings) -> TestClient:
    """The app with full settings and a Docker engine that cannot be reached."""
    return TestClient(create_app(settings, unreachable_docker, heartbeat=False))


@pytest.fixture
def client(settings: Settings, docker_client: docker.DockerClient) -> TestClient:
    """The app against the real Docker engine (heartbeat off: tested on its own)."""
    return TestClient(create_app(settings, heartbeat=False))


@pytest.fixture
def tool_name(docker_client: docker.DockerClient) -> Iterator[str]:
    """A fresh container name; whatever ends up holding it is removed (by id) afterwards.
    (Not `dtma-…`: those names are reserved for the agent's own containers.)"""
    name = f"tool-test-{uuid.uuid4().hex[:10]}"
    yield name
    for container in docker_client.containers.list(all=True, filters={"name": f"^/{name}$"}):
        container.remove(force=True)


@dataclass
class AgentProcess:
    process: subprocess.Popen
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def exited(self) -> str | None:
        code = self.process.poll()
        return None if code is None else f"the agent exited with {code}"


def start_agent(env: dict[str, str], log_path: Path) -> AgentProcess:
    """`python -m dtma` with exactly `env` (plus what Python needs), on a free port, answering.

    If it never answers, it is stopped before the test fails: nothing is left running.
    """
    port = free_port()
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        RUN_MARKER: os.environ.get(RUN_MARKER, ""),
        # The healthcheck's record of the served port: next to the log, not in the host's /run.
        "DTMA_SERVING_FILE": str(log_path.with_suffix(".serving-port")),
        **env,
        "PORT": str(port),
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "dtma"], env=full_env, stdout=log_file, stderr=subprocess.STDOUT
        )
    agent = AgentProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_until_healthy(agent.base_url, gave_up=agent.exited)
    except BaseException as exc:
        stop_agent(agent)
        pytest.fail(f"{exc}\n{agent.log()}", pytrace=False)
    return agent


def stop_agent(agent: AgentProcess) -> int:
    if agent.process.poll() is None:
        agent.process.send_signal(signal.SIGTERM)
        try:
            agent.process.wait(10)
        except subprocess.TimeoutExpired:
            agent.process.kill()
            agent.process.wait()
    return agent.process.returncode


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """`python -m dtma` with both tokens and no backend URL, stopped after the test.
    (Modules that need another agent define their own `agent`.)"""
    env = {"DTMA_BEARER_TOKEN": DROPLET_TOKEN, "BACKEND_TO_DTMA_API_KEY": BACKEND_KEY}
    process = start_agent(env, tmp_path / "agent.log")
    try:
        yield process
    finally:
        stop_agent(process)
