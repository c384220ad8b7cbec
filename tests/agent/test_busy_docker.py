"""`/health` never starves: slow Docker work is bounded and has its own threads.

A registry stand-in on loopback accepts connections and never answers (Docker treats
127.0.0.0/8 registries as insecure, so it really goes there); 45 tool creations then pull from
it at once against a real `python -m dtma`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dtma.docker_work import PULL_LIMIT
from tests.agent.conftest import BACKEND_KEY, DROPLET_TOKEN, auth, start_agent, stop_agent

pytestmark = pytest.mark.e2e
PULLS = 45
HEALTH_BUDGET_SECONDS = 1.0  # the acceptance criterion, per request


class SilentRegistry:
    """Accepts every connection on 127.0.0.1 and never says a word."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self._listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            self.connections.append(conn)

    def close(self) -> None:
        self._listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def registry() -> Iterator[SilentRegistry]:
    silent = SilentRegistry()
    try:
        yield silent
    finally:
        silent.close()  # the hanging pulls fail now, and the agent answers them


@pytest.fixture
def agent(tmp_path: Path, registry: SilentRegistry) -> Iterator:
    env = {
        "DTMA_BEARER_TOKEN": DROPLET_TOKEN,
        "BACKEND_TO_DTMA_API_KEY": BACKEND_KEY,
        "DTMA_PRIVATE_REGISTRIES": f"127.0.0.1:{registry.port}",  # refused otherwise
    }
    process = start_agent(env, tmp_path / "agent.log")
    try:
        yield process
    finally:
        registry.close()  # before the agent stops: let its pulls end first
        stop_agent(process)


def create_in_background(base_url: str, body: dict, answers: list[requests.Response]) -> None:
    with contextlib.suppress(requests.RequestException):  # the agent stopped under it
        answers.append(
            requests.post(f"{base_url}/tools", json=body, headers=auth(BACKEND_KEY), timeout=180)
        )


def hanging_creations(
    base_url: str, registry: SilentRegistry, tag: str, count: int, answers: list
) -> list[threading.Thread]:
    """`count` tool creations whose image is on the silent registry (not started yet)."""
    return [
        threading.Thread(
            target=create_in_background,
            args=(
                base_url,
                {
                    "dockerImageUrl": f"127.0.0.1:{registry.port}/hangs-{tag}-{n}:v1",
                    "instanceNameOnToolbox": f"hanging pull {tag} {n}",
                    "accountToolInstanceId": f"ati-hang-{n}",
                },
                answers,
            ),
            daemon=True,
        )
        for n in range(count)
    ]


def start_and_wait_for_the_registry(creations: list[threading.Thread], registry) -> None:
    for creation in creations:
        creation.start()
    deadline = time.monotonic() + 60
    while not registry.connections:
        assert time.monotonic() < deadline, "Docker never reached the registry stand-in"
        time.sleep(0.05)


def test_health_answers_under_a_second_while_45_pulls_hang(agent, registry, docker_client):
    tag = uuid.uuid4().hex[:8]
    answers: list[requests.Response] = []
    creations = hanging_creations(agent.base_url, registry, tag, PULLS, answers)
    try:
        start_and_wait_for_the_registry(creations, registry)

        session = requests.Session()
        slowest = 0.0
        for _ in range(20):
            began = time.monotonic()
            health = session.get(f"{agent.base_url}/health", timeout=10)
            took = time.monotonic() - began
            slowest = max(slowest, took)
            assert health.status_code == 200
            assert took < HEALTH_BUDGET_SECONDS, (
                f"/health took {took:.2f} s while {PULLS} pulls hang (budget "
                f"{HEALTH_BUDGET_SECONDS} s): Docker work is starving the event loop"
            )
            time.sleep(0.2)
        status = session.get(f"{agent.base_url}/status", headers=auth(BACKEND_KEY), timeout=10)
        assert status.status_code == 200
        print(f"slowest /health while {PULLS} pulls hang: {slowest * 1000:.0f} ms")

        refused = [a for a in answers if a.status_code == 429]
        assert len(refused) >= PULLS - PULL_LIMIT - 2, [a.status_code for a in answers]
        assert refused[0].headers["Retry-After"] == "5"
        assert f"{PULL_LIMIT} image pulls" in refused[0].json()["error"]
        pending = sum(creation.is_alive() for creation in creations)
        assert pending >= 1, "no pull was still hanging: the test proved nothing"
    finally:
        registry.close()
        for creation in creations:
            creation.join(120)
    assert all(a.status_code in (429, 502, 503, 504) for a in answers), [a.text for a in answers]
    leftovers = docker_client.containers.list(
        all=True, filters={"label": "agentopia.account_tool_instance_id"}
    )
    assert not [c for c in leftovers if tag in c.labels.get("agentopia.instance_name", "")]


@pytest.fixture
def impatient_agent(tmp_path: Path, registry: SilentRegistry) -> Iterator:
    """The agent with a 3 s pull deadline."""
    env = {
        "DTMA_BEARER_TOKEN": DROPLET_TOKEN,
        "BACKEND_TO_DTMA_API_KEY": BACKEND_KEY,
        "DTMA_PRIVATE_REGISTRIES": f"127.0.0.1:{registry.port}",
        "DTMA_PULL_DEADLINE_SECONDS": "3",
    }
    process = start_agent(env, tmp_path / "agent.log")
    try:
        yield process
    finally:
        registry.close()
        stop_agent(process)


def test_hanging_pulls_leave_creates_starts_and_stops_served(
    impatient_agent, registry, tool_image, docker_client
):
    """Pulls have slots of their own, and a deadline: a registry that never answers fills
    only those, and its pulls are answered 504 instead of holding their callers forever."""
    base, tag = impatient_agent.base_url, uuid.uuid4().hex[:8]
    answers: list[requests.Response] = []
    hanging = hanging_creations(base, registry, tag, PULL_LIMIT + 2, answers)
    name = f"served-{tag}"
    try:
        start_and_wait_for_the_registry(hanging, registry)
        body = {"dockerImageUrl": tool_image, "instanceNameOnToolbox": name,
                "accountToolInstanceId": f"ati-{name}"}  # fmt: skip
        headers = auth(BACKEND_KEY)
        created = requests.post(f"{base}/tools", json=body, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        stopped = requests.post(f"{base}/tools/{name}/stop", headers=headers, timeout=30)
        assert stopped.status_code == 200, stopped.text
        for thread in hanging:
            thread.join(30)
        codes = sorted(a.status_code for a in answers)
        assert codes.count(504) == PULL_LIMIT and codes.count(429) == 2, codes
        assert "did not finish within 3 s" in next(a for a in answers if a.status_code == 504).text
    finally:
        with contextlib.suppress(requests.RequestException):
            requests.delete(f"{base}/tools/{name}", headers=auth(BACKEND_KEY), timeout=30)
