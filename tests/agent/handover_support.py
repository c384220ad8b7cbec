"""Real agent processes for the handover tests: started without waiting, polled by deadline,
stopped by pid whatever happens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.agent.conftest import BACKEND_KEY, DROPLET_TOKEN, REPO
from tests.support.leaks import RUN_MARKER
from tests.support.readiness import answer, wait_until


@dataclass
class Agent:
    process: subprocess.Popen
    port: int
    check_port: int | None
    log_path: Path

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def check_url(self) -> str:
        return f"http://127.0.0.1:{self.check_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def exited(self) -> str | None:
        code = self.process.poll()
        return None if code is None else f"the agent exited with {code}:\n{self.log()}"

    def wait_for_log(self, text: str, deadline: float = 60) -> None:
        wait_until(lambda: text in self.log(), f"log line {text!r}", deadline=deadline)

    def wait_healthy(self, url: str, deadline: float = 120) -> None:
        def ok() -> bool:
            got = answer(f"{url}/health", timeout=10)
            return got is not None and got.status_code == 200

        wait_until(ok, f"{url}/health", deadline=deadline, gave_up=self.exited)

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def launch(log_path: Path, port: int, check_port: int | None = None, **extra: str) -> Agent:
    """`python -m dtma` on `port` (handover mode when `check_port` is given); returns at once."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        RUN_MARKER: os.environ.get(RUN_MARKER, ""),
        "DTMA_SERVING_FILE": str(log_path.with_suffix(".serving-port")),
        "DTMA_BEARER_TOKEN": DROPLET_TOKEN,
        "BACKEND_TO_DTMA_API_KEY": BACKEND_KEY,
        "PORT": str(port),
        **extra,
    }
    if check_port is not None:
        env["DTMA_CHECK_PORT"] = str(check_port)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "dtma"], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    return Agent(process, port, check_port, log_path)


@contextmanager
def agents() -> Iterator[list[Agent]]:
    """A list to put launched agents in; all of them are stopped at the end."""
    started: list[Agent] = []
    try:
        yield started
    finally:
        for agent in started:
            agent.stop()


def refused(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (a fresh connection is refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def raw_request(port: int, request: bytes, timeout: float = 15) -> bytes:
    """One request on a fresh connection, everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        return read_all(conn)


def read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
