"""Handover mode: when a release may take the public port. Standard library only.

A release started with DTMA_CHECK_PORT is a candidate: it serves only 127.0.0.1:DTMA_CHECK_PORT
until it is promoted, by SIGUSR1 or (decided once, at start) by its own container's restart
policy being `always`/`unless-stopped`. At start, a promoted release that finds a newer promoted
release of the agent (after a reboot in the middle of a handover, both come back) steps aside:
it sets its own restart policy to `no` and exits 0 without taking the public port.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from dtma.own_container import (
    DockerEngine,
    DockerUnavailable,
    Release,
    newer_promoted_release,
    own_container_id,
)

log = logging.getLogger("dtma")


class Promotion:
    """Whether this release may serve the public port. Set once; never taken back."""

    def __init__(self) -> None:
        self.promoted = False
        self.how = ""
        self._on_promoted: Callable[[], None] | None = None

    def listen_for_signal(self) -> None:
        """SIGUSR1 promotes. Installed before the port answers: SIGUSR1's default kills."""
        signal.signal(signal.SIGUSR1, lambda _signum, _frame: self.promote("SIGUSR1"))

    def promote(self, how: str) -> None:
        # May run in a signal handler: no logging here (the server logs when it acts on it).
        if not self.promoted:
            self.promoted, self.how = True, how
            if self._on_promoted is not None:
                self._on_promoted()

    def when_promoted(self, callback: Callable[[], None]) -> None:
        """Call `callback` once promoted (at once if already). It must be signal-safe."""
        self._on_promoted = callback
        if self.promoted:
            callback()


@dataclass(frozen=True)
class StartVerdict:
    promoted: bool
    note: str  # one log line: what was found out and what follows
    me: Release | None = None
    yield_to: Release | None = None  # a newer promoted release: this one steps aside


def decide_at_start(engine: DockerEngine, own_id: str | None) -> StartVerdict:
    """Ask the engine about this release's own container and its sibling releases."""
    if own_id is None:
        return StartVerdict(
            False,
            "own container id not found (/proc/self/mountinfo, /proc/self/cgroup): "
            "cannot read the restart policy; not promoted until SIGUSR1",
        )
    try:
        me = Release.from_inspect(engine.inspect(own_id))
    except DockerUnavailable as exc:
        return StartVerdict(
            False, f"cannot read own restart policy ({exc}); not promoted until SIGUSR1"
        )
    if not me.promoted:
        return StartVerdict(
            False,
            f"own restart policy is {me.restart_policy!r}: candidate, waiting for SIGUSR1",
            me,
        )
    others: list[Release] = []
    try:
        for other_id in engine.agent_ids():
            if other_id != me.id:
                try:
                    others.append(Release.from_inspect(engine.inspect(other_id)))
                except DockerUnavailable:
                    continue  # removed meanwhile
    except DockerUnavailable as exc:
        return StartVerdict(
            True,
            f"own restart policy is {me.restart_policy!r}: promoted "
            f"(could not look for newer releases: {exc})",
            me,
        )
    newer = newer_promoted_release(me, others)
    if newer is not None:
        return StartVerdict(
            True,
            f"newer release {newer.name} ({newer.id[:12]}, deployed "
            f"{newer.deployed_at.isoformat()}, restart policy {newer.restart_policy!r}) "
            f"is promoted too",
            me,
            newer,
        )
    return StartVerdict(True, f"own restart policy is {me.restart_policy!r}: promoted", me)


def step_aside(verdict: StartVerdict, engine: DockerEngine | None = None) -> str:
    """Set this release's restart policy to `no` (the engine will not bring it back); the log
    line to write. The caller then exits 0 without taking the public port."""
    assert verdict.me is not None and verdict.yield_to is not None
    engine = engine or DockerEngine()
    try:
        engine.set_restart_policy(verdict.me.id, "no")
        done = "own restart policy set to 'no'"
    except DockerUnavailable as exc:
        done = f"could NOT set own restart policy to 'no' ({exc})"
    return f"{verdict.note}: {done}; exiting 0 without serving the public port"


def start_verdict() -> StartVerdict:
    """decide_at_start for the real process (socket from DOCKER_HOST or the default)."""
    return decide_at_start(DockerEngine(), own_container_id())
