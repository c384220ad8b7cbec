"""What a test run leaves behind: agent processes it started, containers and volumes it created.

The run marks itself with a random id in RUN_MARKER, which every agent process it starts inherits
(directly or through `fab`/`pytest` subprocesses), so agents found after the run are surely its
own. Containers and volumes carry no such mark: those are compared with a snapshot taken when the
run began, which is right as long as nothing else creates containers on the same engine meanwhile
(CI runs one suite; set DTMA_LEAK_CHECK=off when running two suites on one engine by hand).
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker

RUN_MARKER = "DTMA_TEST_RUN"
SWITCH = "DTMA_LEAK_CHECK"


def mark_this_run() -> str:
    """Give this run an id that its child processes inherit."""
    os.environ.setdefault(RUN_MARKER, uuid.uuid4().hex)
    return os.environ[RUN_MARKER]


def check_enabled() -> bool:
    return os.environ.get(SWITCH, "on").lower() not in ("off", "0", "no")


def agent_processes(run_id: str) -> list[int]:
    """PIDs of `python -m dtma` processes started by the run with this id."""
    pids = []
    wanted = f"{RUN_MARKER}={run_id}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"-m" not in argv or b"dtma" not in argv:
                continue
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


@dataclass(frozen=True)
class EngineSnapshot:
    containers: frozenset[str]
    volumes: frozenset[str]

    @classmethod
    def take(cls, client: docker.DockerClient) -> EngineSnapshot:
        return cls(
            frozenset(c.id for c in client.containers.list(all=True, ignore_removed=True)),
            frozenset(v.name for v in client.volumes.list()),
        )


def leaks(
    run_id: str, before: EngineSnapshot | None, client: docker.DockerClient | None
) -> list[str]:
    """One line per thing the run left behind. Its own agent processes are killed; containers and
    volumes are only named (another suite on the same engine may own them: see the docstring)."""
    found = []
    for pid in agent_processes(run_id):
        found.append(f"agent process {pid} (python -m dtma) still running: killed")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if before is None or client is None:
        return found
    for container in client.containers.list(all=True, ignore_removed=True):
        if container.id not in before.containers:
            found.append(f"container {container.name} ({container.status}) still there")
    for volume in client.volumes.list():
        if volume.name not in before.volumes:
            found.append(f"volume {volume.name} still there")
    return found
