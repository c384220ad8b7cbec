"""Two releases of the agent at once on one network: real processes, real sockets.

The public port is shared (SO_REUSEPORT); a candidate (DTMA_CHECK_PORT) serves only its check
port until SIGUSR1; a busy public port is retried; SIGTERM lets accepted connections finish.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from tests.agent.conftest import BACKEND_KEY
from tests.agent.handover_support import agents, launch, raw_request, read_all, refused
from tests.support.ports import free_port
from tests.support.readiness import answer, wait_until


def version_at(url: str) -> str | None:
    """The version of whichever agent answers a fresh connection's /status, or None."""
    got = answer(f"{url}/status", timeout=10)
    return got.json()["version"] if got is not None and got.status_code == 200 else None


def test_two_agents_share_the_public_port(tmp_path):
    port = free_port()
    with agents() as started:
        first = launch(tmp_path / "a.log", port, DTMA_VERSION="rel-a")
        started.append(first)
        first.wait_healthy(first.public_url)
        second = launch(tmp_path / "b.log", port, DTMA_VERSION="rel-b")
        started.append(second)
        seen: set[str] = set()

        def both_answered() -> bool:
            assert second.exited() is None and first.exited() is None
            seen.add(version_at(first.public_url) or "")
            return {"rel-a", "rel-b"} <= seen

        wait_until(both_answered, "both agents answering on one port", deadline=60)
        assert [agent.stop() for agent in started] == [0, 0]


def test_candidate_goes_public_only_on_sigusr1_then_closes_its_check_port(tmp_path):
    port, check_port = free_port(), free_port()
    with agents() as started:
        candidate = launch(tmp_path / "cand.log", port, check_port, DTMA_VERSION="cand-1")
        started.append(candidate)
        candidate.wait_healthy(candidate.check_url)
        wait_until(lambda: version_at(candidate.check_url) == "cand-1", "the app on the check port")
        candidate.wait_for_log("not promoted until SIGUSR1")  # not in a container: no policy
        assert refused(port), "a candidate must not serve the public port"
        assert candidate.log_path.with_suffix(".serving-port").read_text().strip() == str(
            check_port
        )

        # A second candidate on the same check port fails at once, with one clear line.
        twin = launch(tmp_path / "twin.log", free_port(), check_port)
        started.append(twin)
        assert twin.process.wait(60) != 0
        errors = [line for line in twin.log().splitlines() if "ERROR" in line]
        assert len(errors) == 1 and f"check port 127.0.0.1:{check_port}" in errors[0], twin.log()
        assert "Traceback" not in twin.log()

        candidate.signal(signal.SIGUSR1)
        wait_until(lambda: version_at(candidate.public_url) == "cand-1", "the public port")
        wait_until(lambda: refused(check_port), "the check port closed", deadline=30)
        assert candidate.log_path.with_suffix(".serving-port").read_text().strip() == str(port)
        assert candidate.stop() == 0, candidate.log()


def test_a_busy_public_port_is_retried_until_it_is_released(tmp_path):
    port, check_port = free_port(), free_port()
    # An old agent of the previous kind (no SO_REUSEPORT), or a docker-proxy.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("0.0.0.0", port))
    holder.listen(16)
    with agents() as started:
        try:
            candidate = launch(tmp_path / "cand.log", port, check_port, DTMA_VERSION="cand-2")
            started.append(candidate)
            candidate.wait_healthy(candidate.check_url)
            candidate.signal(signal.SIGUSR1)
            candidate.wait_for_log("retrying every 50 ms")
            assert candidate.exited() is None
        finally:
            holder.close()
        wait_until(lambda: version_at(candidate.public_url) == "cand-2", "the public port")
        assert "listening on 0.0.0.0" in candidate.log()
        assert candidate.stop() == 0, candidate.log()


def loaded_agent(started: list, log: Path, port: int, **env: str):
    """An agent on `port` (stopped at the end with the others `started`), its app loaded."""
    agent = launch(log, port, **env)
    started.append(agent)
    agent.wait_healthy(agent.public_url)
    wait_until(lambda: version_at(agent.public_url), "the app loaded")
    return agent


def test_sigterm_answers_accepted_connections_and_finishes_requests_in_flight(tmp_path):
    port = free_port()
    body = b'{"unexpected": "fields"}'
    head = (
        b"POST /tools HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer "
        + BACKEND_KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    with agents() as started:
        agent = loaded_agent(started, tmp_path / "agent.log", port, DTMA_DRAIN_GRACE="2")
        quiet = socket.create_connection(("127.0.0.1", port), timeout=15)  # no request yet
        in_flight = socket.create_connection(("127.0.0.1", port), timeout=15)
        try:
            in_flight.sendall(head + body[:5])  # the rest comes after SIGTERM
            # Answered on a later connection: the server has accepted the two before it.
            assert b" 200 " in raw_request(port, b"GET /health HTTP/1.0\r\n\r\n").split(b"\r\n")[0]
            agent.signal(signal.SIGTERM)
            agent.wait_for_log("listeners closed")
            assert refused(port), "new connections must go elsewhere at once"
            # uvicorn alone would have closed this one at once, without an answer.
            quiet.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            assert read_all(quiet).endswith(b'{"status":"ok"}')
            agent.wait_for_log("Shutting down")  # past the grace: only in-flight work is left
            in_flight.sendall(body[5:])
            answer_line = read_all(in_flight).split(b"\r\n")[0]
            assert answer_line.startswith(b"HTTP/1.1 "), answer_line
        finally:
            quiet.close()
            in_flight.close()
        assert agent.process.wait(15) == 0, agent.log()


def test_sigterm_with_no_connection_left_stops_without_waiting_out_the_grace(tmp_path):
    port = free_port()
    with agents() as started:
        agent = loaded_agent(started, tmp_path / "agent.log", port, DTMA_DRAIN_GRACE="600")
        agent.signal(signal.SIGTERM)
        # A grace of ten minutes: an exit within the wait below is the drain ending early.
        assert agent.process.wait(60) == 0, agent.log()
        assert "no connection left" in agent.log()
