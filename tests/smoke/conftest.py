"""Run the smoke suite the way an operator does: `python -m pytest smoke_tests …` in a process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ports import free_port  # noqa: F401  (re-exported)

REPO = Path(__file__).resolve().parents[2]
SMOKE_SUITE = REPO / "smoke_tests"
KEY = "smoke-key-0f3a9c1e7b2d4a6f"  # the backend key the tests hand the agents


@dataclass(frozen=True)
class SmokeRun:
    returncode: int
    output: str

    def line_of(self, promise: str) -> str:
        """The summary line for a promise."""
        for line in self.output.splitlines():
            if line.split()[2:3] == [promise] or line.split()[1:2] == [promise]:
                return line
        raise AssertionError(f"no summary line for {promise!r} in:\n{self.output}")


@pytest.fixture
def run_smoke(tmp_path: Path) -> Callable[..., SmokeRun]:
    """Run the suite in a fresh interpreter, from a scratch directory (not the checkout)."""

    def run(*args: str, timeout: float = 120, plugins: bool = False, **env_vars: str) -> SmokeRun:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DTMA_SMOKE_")}
        if not plugins:
            # Installed plugins (hypothesis, schemathesis, …) triple the start-up time.
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env.update(env_vars)
        argv = [sys.executable, "-m", "pytest", str(SMOKE_SUITE), "-p", "no:cacheprovider"]
        done = subprocess.run(
            [*argv, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return SmokeRun(done.returncode, done.stdout + done.stderr)

    return run
