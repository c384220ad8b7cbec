"""Continuous load on fresh connections, the way the backend calls the agent: every request
opens its own TCP connection (HTTP/1.0), from several threads at a steady rate; one thread
sends each request in two halves with a pause between, so that at any moment some request is
in flight (accepted, not yet read). A failure is anything but a complete 2xx answer.

Used by the handover tests (no request may fail) and by `make bench` (failed requests and the
longest time without a success, per release kind).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

REQUEST_TIMEOUT = 10.0


@dataclass
class LoadResult:
    requests: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)  # (when, what)
    successes: list[float] = field(default_factory=list)  # completion times
    slow_ok: int = 0  # requests sent in two halves that got their answer
    seconds: float = 0.0

    @property
    def longest_gap(self) -> float:
        """The longest time without a completed success (the outage a client sees)."""
        times = sorted(self.successes)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        kinds = sorted({what for _, what in self.failures})
        return (
            f"{self.requests} requests ({self.rate:.0f}/s), {len(self.failures)} failed"
            f"{' (' + ', '.join(kinds[:3]) + ')' if kinds else ''}, longest gap "
            f"{self.longest_gap:.2f} s, {self.slow_ok} half-sent requests answered"
        )


def ask(host: str, port: int, request: bytes, pause: float = 0.0) -> str:
    """One request on a new connection; "" on a 2xx answer, else what went wrong."""
    try:
        with socket.create_connection((host, port), timeout=REQUEST_TIMEOUT) as conn:
            if pause:
                half = len(request) // 2
                conn.sendall(request[:half])
                time.sleep(pause)
                conn.sendall(request[half:])
            else:
                conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
    except OSError as exc:
        return type(exc).__name__
    status = answer.split(b" ", 2)[1:2]
    if not status:
        return "empty answer"
    return "" if status[0].startswith(b"2") else f"HTTP {status[0].decode(errors='replace')}"


def requests_for(key: str | None) -> list[bytes]:
    health = b"GET /health HTTP/1.0\r\nHost: agent\r\n\r\n"
    if key is None:
        return [health]
    status = f"GET /status HTTP/1.0\r\nHost: agent\r\nAuthorization: Bearer {key}\r\n\r\n"
    return [health, status.encode()]


class LoadProbe:
    """`with LoadProbe(url, key=…) as load:` … then `load.result`."""

    def __init__(
        self,
        url: str,
        *,
        key: str | None = None,
        threads: int = 4,
        rate: float = 60.0,
        slow_pause: float = 0.3,
    ) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.requests = requests_for(key)
        self.threads, self.interval, self.slow_pause = threads, threads / rate, slow_pause
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def _record(self, started: float, what: str, slow: bool) -> None:
        with self._lock:
            self.result.requests += 1
            if what:
                self.result.failures.append((started, what))
            else:
                self.result.successes.append(time.monotonic())
                self.result.slow_ok += slow

    def _loop(self, index: int) -> None:
        slow = index == 0 and self.slow_pause > 0
        n = index
        next_at = time.monotonic()
        while not self._stop.is_set():
            request = self.requests[n % len(self.requests)]
            n += 1
            started = time.monotonic()
            self._record(started, ask(self.host, self.port, request, self.slow_pause * slow), slow)
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> LoadProbe:
        self._started = time.monotonic()
        for index in range(self.threads):
            worker = threading.Thread(target=self._loop, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(REQUEST_TIMEOUT + 5)
        self.result.seconds = time.monotonic() - self._started
