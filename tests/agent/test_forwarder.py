"""`python -m dtma.forwarder` as a real process between real sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dtma.forwarder import default_gateway
from tests.agent.conftest import REPO
from tests.agent.handover_support import read_all
from tests.support.ports import free_port
from tests.support.readiness import wait_until


class EchoServer:
    """Answers each connection with everything it received, prefixed, once the client has
    finished sending (half-close): it only works if the relay passes the EOF on."""

    def __init__(self, port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"echo:" + read_all(conn))

    def close(self) -> None:
        self.listener.close()


Running = tuple[subprocess.Popen, int, int, Path]  # the process, its port, its target, its log


@contextlib.contextmanager
def running_forwarder(
    tmp_path: Path, **env: str
) -> Iterator[tuple[subprocess.Popen, int, int, Path]]:
    """The forwarder on a free port, relaying to another free port where nothing listens yet."""
    port, target = free_port(), free_port()
    log_path = tmp_path / "forwarder.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DTMA_FORWARD_PORT": str(port),
        "DTMA_FORWARD_TARGET": f"127.0.0.1:{target}",
        **env,
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "dtma.forwarder"], env=env, stdout=log_file, stderr=log_file
        )
    try:
        wait_until(lambda: "forwarding" in log_path.read_text(), "the forwarder's start line")
        yield process, port, target, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def forwarder(tmp_path: Path) -> Iterator[Running]:
    with running_forwarder(tmp_path) as running:
        yield running


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)  # half-close: the answer must still come back
        return read_all(conn)


def test_relays_each_connection_with_half_close_and_stops_on_sigterm(forwarder):
    process, port, target, log_path = forwarder
    assert log_path.read_text().count("\n") == 1  # one line at start
    upstream = EchoServer(target)
    try:
        for n in range(3):
            payload = f"request {n} ".encode() * 1000
            assert exchange(port, payload) == b"echo:" + payload
    finally:
        upstream.close()
    process.send_signal(signal.SIGTERM)
    assert process.wait(5) == 0


def test_waits_for_an_upstream_that_comes_up_within_three_seconds(forwarder):
    _, port, target, _ = forwarder
    client = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        client.sendall(b"early")
        client.shutdown(socket.SHUT_WR)
        time.sleep(0.5)  # sets up the situation (upstream down for a while); asserts nothing
        upstream = EchoServer(target)
        try:
            assert read_all(client) == b"echo:early"
        finally:
            upstream.close()
    finally:
        client.close()


def test_closes_the_client_when_the_upstream_stays_down(forwarder):
    _, port, _, log_path = forwarder
    began = time.monotonic()
    assert exchange(port, b"nobody there") == b""
    waited = time.monotonic() - began
    assert 2.9 <= waited < 10, waited
    assert "upstream 127.0.0.1" in log_path.read_text()


def test_the_gateway_is_read_from_the_routing_table(tmp_path):
    routes = tmp_path / "route"
    routes.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n"
        "eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\n"
    )
    assert default_gateway(str(routes)) == "172.18.0.1"
    routes.write_text("Iface\tDestination\tGateway\n")
    assert default_gateway(str(routes)) == ""


def test_idle_clients_cannot_pile_up(tmp_path):
    """Past its cap a connection is closed at once; one on which nothing moves is closed
    after the idle time (here 5 and 1 s)."""
    extra = {"DTMA_FORWARD_MAX_CONNECTIONS": "5", "DTMA_FORWARD_IDLE_SECONDS": "1"}
    with running_forwarder(tmp_path, **extra) as (_, port, target, _):
        upstream = EchoServer(target)  # answers only after the client's EOF: silent meanwhile
        clients = []
        try:
            for _ in range(20):
                clients.append(socket.create_connection(("127.0.0.1", port), timeout=15))
                time.sleep(0.02)  # in order: the first five are the ones relayed
            began = time.monotonic()
            past_the_cap = [read_all(client) for client in clients[5:]]  # b"": closed
            closed_at_once = time.monotonic() - began
            relayed = [read_all(client) for client in clients[:5]]
            held = time.monotonic() - began
        finally:
            for client in clients:
                client.close()
            upstream.close()
    assert past_the_cap == [b""] * 15 and closed_at_once < 0.5, closed_at_once
    assert relayed == [b""] * 5 and 0.5 < held < 10, held  # closed after the idle second
