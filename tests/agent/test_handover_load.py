"""A handover under load: the old release serves, the new one starts as a candidate, is promoted,
the old one is stopped; clients making one request per connection (as the backend does) see no
failure. Runs in a fresh network namespace with net.ipv4.tcp_migrate_req=1, as on the droplet:
without it, connections waiting in the old listener's queue are reset when it closes.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time

import pytest

from tests.agent.handover_support import agents, launch, read_all
from tests.support.netns import NoNamespace, fresh_network_namespace
from tests.support.readiness import wait_until

PORT, CHECK_PORT = 30000, 30001  # a namespace of its own: the droplet's numbers
THREADS = 4


class FreshConnectionLoad:
    """Threads that GET /status on a new connection each time, counting every failure."""

    def __init__(self, port: int, threads: int) -> None:
        self.port = port
        self.failures: list[str] = []
        self.versions: dict[str, int] = {}
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _one(self) -> str:
        with socket.create_connection(("127.0.0.1", self.port), timeout=15) as conn:
            conn.sendall(b"GET /status HTTP/1.0\r\nHost: agent\r\n\r\n")
            raw = read_all(conn)
        head, _, body = raw.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0]
        if b" 200 " not in status:
            raise RuntimeError(f"answer {status!r} ({len(raw)} bytes)")
        return json.loads(body)["version"]

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                version = self._one()
                with self._lock:
                    self.versions[version] = self.versions.get(version, 0) + 1
            except Exception as exc:  # every kind of failure is what this test counts
                with self._lock:
                    self.failures.append(f"{time.monotonic():.3f} {type(exc).__name__}: {exc}")

    def answered(self, version: str) -> int:
        with self._lock:
            return self.versions.get(version, 0)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(30)


def test_handover_under_load_fails_no_request(tmp_path):
    try:
        namespace = fresh_network_namespace({"net.ipv4.tcp_migrate_req": "1"})
        namespace.__enter__()
    except NoNamespace as exc:
        pytest.skip(f"needs root to make a network namespace: {exc}")
    try:
        with agents() as started:
            old = launch(tmp_path / "old.log", PORT, DTMA_VERSION="old")
            started.append(old)
            old.wait_healthy(old.public_url)
            load = FreshConnectionLoad(PORT, THREADS)
            load.start()
            try:
                wait_until(lambda: load.answered("old") >= 20, "the old release answering")
                new = launch(tmp_path / "new.log", PORT, CHECK_PORT, DTMA_VERSION="new")
                started.append(new)
                new.wait_for_log("not promoted until SIGUSR1")
                new.wait_healthy(new.check_url)
                assert load.answered("new") == 0, "a candidate must not serve the public port"
                new.signal(signal.SIGUSR1)
                wait_until(lambda: load.answered("new") >= 20, "the new release answering")
                old.signal(signal.SIGTERM)
                assert old.process.wait(15) == 0, old.log()
                after = load.answered("new")
                wait_until(lambda: load.answered("new") >= after + 50, "load after the handover")
            finally:
                load.stop()
            assert new.exited() is None
    finally:
        namespace.__exit__(None, None, None)
    assert load.failures == [], f"{len(load.failures)} failed: {load.failures[:5]}"
    assert load.versions["old"] >= 20 and load.versions["new"] >= 70, load.versions
