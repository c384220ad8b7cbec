"""One sandbox droplet for the whole fault matrix: the agent is deployed once and reused.

Everything made here is named `dtma-fault-*` and removed at the end of the session.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tasks import sandbox
from tasks.sandbox.droplet import KNOWN_HOSTS
from tests.faults.support import assert_smoke_passes, env_text
from tests.support.contexts import make_context
from tests.support.deploy import deploy, fab, on_host
from tests.support.sandboxes import sandbox_for_tests

PREFIX = "dtma-fault"


@dataclass
class FaultHost:
    """The sandbox, its env file, and every `fab` output seen (the secrets check reads them)."""

    box: sandbox.Sandbox
    env_file: Path
    outputs: list[str] = field(default_factory=list)

    def deploy(self, context: Path, *extra: str, env_file: Path | None = None, core=()):
        done = deploy([self.box], context, env_file or self.env_file, *extra, core=core)
        self.outputs += [done.stdout, done.stderr]
        return done

    def fab(self, *args: str, core=(), timeout: float = 600):
        done = fab([self.box], *args, core=core, timeout=timeout)
        self.outputs += [done.stdout, done.stderr]
        return done

    def sh(self, command: str) -> subprocess.CompletedProcess[str]:
        return on_host(self.box, command)

    def smoke(self) -> None:
        """Each fault's last word: the operator's smoke suite passes against the host."""
        assert_smoke_passes(
            self.box.agent_url,
            self.env_file,
            "--ssh",
            self.box.host,
            "--ssh-key",
            str(self.box.key_path),
            "--known-hosts",
            str(KNOWN_HOSTS),
        )


@pytest.fixture(scope="session")
def contexts(tmp_path_factory) -> dict[str, Path]:
    """Build contexts, each its own git repo (its commit is the version)."""
    base = tmp_path_factory.mktemp("fault-contexts")
    # As PID 1, a shell without a TERM handler ignores `docker stop`'s SIGTERM: every stop of
    # this agent takes the full 10 s timeout, a wide window to land an interrupt in. It passes
    # on the SIGUSR1 that promotes it (the deploy signals PID 1).
    slow_stop = (
        '\nCMD ["sh", "-c", "/opt/venv/bin/python -m dtma & '
        "trap 'kill -USR1 $!' USR1; while :; do wait; done\"]\n"
    )
    return {
        "v1": make_context(base / "v1", "fault-one"),
        "v2": make_context(base / "v2", "fault-two"),
        "v3": make_context(base / "v3", "fault-three"),
        "v4": make_context(base / "v4", "fault-four"),
        "v5": make_context(base / "v5", "fault-five"),
        "slow-stop": make_context(base / "slow-stop", "fault-slow-stop", slow_stop),
        "no-build": make_context(base / "no-build", "fault-no-build", "\nRUN exit 3\n"),
    }


@pytest.fixture(scope="session")
def env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fault-env") / "dtma.env"
    path.write_text(env_text())
    return path


@pytest.fixture(scope="session")
def fault_box() -> Iterator[sandbox.Sandbox]:
    yield from sandbox_for_tests(PREFIX)


@pytest.fixture(scope="session")
def host(fault_box, env_file, contexts) -> FaultHost:
    """The sandbox with the agent deployed (v1), at the highest verbosity fab has."""
    target = FaultHost(fault_box, env_file)
    done = target.deploy(contexts["v1"], core=("--echo", "-d"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return target
