"""Helpers for the tests that run `fab` against sandbox droplets: run it, read the hosts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tasks import sandbox
from tests.support.contexts import ROOT
from tests.support.readiness import answer

FAB = Path(sys.executable).parent / "fab"
TOKEN = "tok-e2e-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
KEY = "key-e2e-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
ENV_TEXT = (
    f"# deploy e2e\r\nDTMA_BEARER_TOKEN={TOKEN}\r\nBACKEND_TO_DTMA_API_KEY='{KEY}'\r\n"
    "AGENTOPIA_API_BASE_URL=http://127.0.0.1:9/functions/v1\r\n"
)


def fab_argv(boxes: list[sandbox.Sandbox], *args: str, core: tuple[str, ...] = ()) -> list[str]:
    hosts = ",".join(box.host for box in boxes)
    keys = [arg for box in boxes for arg in ("-i", str(box.key_path))]
    return [str(FAB), *core, "-H", hosts, *keys, *args]


def takes_ctrl_c() -> None:
    """preexec_fn of a `fab` a test will Ctrl-C: SIGINT at its default, as from a terminal, even
    when the suite runs as a background job (which starts with SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def verify_urls(boxes: list[sandbox.Sandbox]) -> str:
    if len(boxes) == 1:
        return boxes[0].agent_url
    return ",".join(f"{box.host}={box.agent_url}" for box in boxes)


def fab(boxes, *args, core=(), timeout=600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        fab_argv(boxes, *args, core=core), cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def deploy(boxes, context: Path, env_file: Path, *extra: str, core=()):
    args = ["deploy", "--context", str(context), "--env-file", str(env_file)]
    return fab(boxes, *args, "--verify-url", verify_urls(boxes), *extra, core=core)


def on_host(box: sandbox.Sandbox, command: str) -> subprocess.CompletedProcess[str]:
    with box.connection() as conn:
        result = conn.run(command, hide=True, warn=True, in_stream=False)
    return subprocess.CompletedProcess(command, result.exited, result.stdout, result.stderr)


def inspect(box: sandbox.Sandbox, name: str) -> dict | None:
    result = on_host(box, f"docker container inspect {name}")
    return json.loads(result.stdout)[0] if result.returncode == 0 else None


def public_version(box: sandbox.Sandbox) -> str:
    return requests.get(f"{box.agent_url}/status", timeout=5).json()["version"]


def version_answering(box: sandbox.Sandbox) -> str | None:
    """The version on the public port now, or None while nothing answers 200 (a reboot)."""
    response = answer(f"{box.agent_url}/status")
    return response.json().get("version") if response and response.status_code == 200 else None


def latest_report(host: str) -> dict:
    safe = host.replace("@", "_").replace(":", "_")
    newest = max((ROOT / "reports").glob(f"{safe}-*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(newest.read_text())


@dataclass
class HealthProbe:
    """GET /health every 50 ms in a thread; the longest run of failures is the outage."""

    url: str
    failures: list[float] = field(default_factory=list)
    longest_gap: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _loop(self) -> None:
        gap_started = None
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                ok = requests.get(f"{self.url}/health", timeout=0.5).status_code == 200
            except requests.RequestException:
                ok = False
            if ok and gap_started is not None:
                self.longest_gap = max(self.longest_gap, now - gap_started)
                gap_started = None
            elif not ok:
                self.failures.append(now)
                gap_started = gap_started if gap_started is not None else now
            time.sleep(0.05)

    def __enter__(self) -> HealthProbe:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
