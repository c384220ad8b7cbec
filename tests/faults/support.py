"""Helpers for the fault matrix: a side channel for figures, `fab` runs that can be interrupted,
and the smoke suite as each fault's last word."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tasks import sandbox
from tests.support.contexts import ROOT
from tests.support.deploy import fab_argv, on_host, takes_ctrl_c
from tests.support.readiness import wait_until, wait_until_healthy

# `make faults` points this at a JSONL file; each passing fault test appends its figures.
RESULTS_ENV = "DTMA_FAULTS_RESULTS"
TOKEN = "tok-fault-3c9a1e5b7d2f4a6c8e0b1d3f5a7c9e2b"
KEY = "key-fault-8b6d4f2a0c1e3b5d7f9a2c4e6b8d0f1a"
LOCK_DIR = "/var/lib/dtma-deploy/lock"


def record(fault: str, *, recovery_seconds: float | None = None, **figures: object) -> None:
    """Append one passing fault's figures for `python -m bench.faults` (no-op outside it)."""
    target = os.environ.get(RESULTS_ENV)
    if not target:
        return
    row = {
        "fault": fault,
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0],
        "recovery_seconds": None if recovery_seconds is None else round(recovery_seconds, 2),
        "lost": "nothing",
        **figures,
    }
    with open(target, "a") as out:
        out.write(json.dumps(row) + "\n")


def env_text(**extra: str) -> str:
    lines = [
        f"DTMA_BEARER_TOKEN={TOKEN}",
        f"BACKEND_TO_DTMA_API_KEY={KEY}",
        "AGENTOPIA_API_BASE_URL=http://127.0.0.1:9/functions/v1",
        *(f"{name}={value}" for name, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def run_smoke(agent_url: str, env_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The operator's smoke suite against a live agent, in its own interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTMA_SMOKE_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # installed plugins triple the start-up time
    argv = [sys.executable, "-m", "pytest", str(ROOT / "smoke_tests"), "-q", "-p"]
    host = agent_url.removeprefix("http://")
    argv += ["no:cacheprovider", "--host", host, "--env-file", str(env_file), *extra]
    return subprocess.run(
        argv, cwd=env_file.parent, env=env, capture_output=True, text=True, timeout=120
    )


def assert_smoke_passes(agent_url: str, env_file: Path, *extra: str) -> None:
    done = run_smoke(agent_url, env_file, *extra)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def seconds_until_healthy(url: str, started: float, limit: float = 120.0) -> float:
    """Seconds from `started` (monotonic) to the first 200 from `url`/health."""
    return wait_until_healthy(url, deadline=limit) - started


def load_image(box: sandbox.Sandbox, image: str) -> None:
    """`docker save | ssh docker load`: the sandbox's engine cannot pull from any registry."""
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    loaded = subprocess.run(
        box.ssh_argv("docker", "load", "-q"), stdin=save.stdout, capture_output=True, text=True
    )
    save.stdout.close()
    assert save.wait() == 0 and loaded.returncode == 0, loaded.stderr


def lock_is_free(box: sandbox.Sandbox) -> bool:
    return on_host(box, f"test -e {LOCK_DIR}").returncode != 0


@dataclass
class FabRun:
    """`fab …` in the background; its stdout lines are watched so a signal can land on a step."""

    argv: list[str]
    lines: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=takes_ctrl_c,
        )
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.lines)),
            threading.Thread(target=self._read, args=(self.process.stderr, self._stderr)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def wait_for_line(self, wanted: str, timeout: float = 300.0) -> None:
        line = wanted + "\n"

        def seen() -> bool | None:
            if line in self.lines:
                return True
            if self.process.poll() is not None:
                for reader in self._readers:  # what fab printed last may still be in the pipe
                    reader.join(timeout=10)
                assert line in self.lines, (
                    f"fab ended before printing {wanted!r}:\n"
                    f"{self.stdout[-2000:]}{self.stderr[-2000:]}"
                )
            return None

        wait_until(seen, f"a {wanted!r} line from fab", deadline=timeout, poll=0.02)

    def interrupt(self) -> float:
        """Ctrl-C, as a terminal sends it; returns when it was sent (monotonic)."""
        self.process.send_signal(signal.SIGINT)
        return time.monotonic()

    def finish(self, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        finally:
            for reader in self._readers:
                reader.join(5)
        return subprocess.CompletedProcess(
            self.argv, self.process.returncode, self.stdout, self.stderr
        )

    @property
    def stdout(self) -> str:
        return "".join(self.lines)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)


def start_fab(box: sandbox.Sandbox, *args: str) -> FabRun:
    return FabRun(fab_argv([box], *args))
