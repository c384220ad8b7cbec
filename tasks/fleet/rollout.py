"""A fleet rollout's shape: the first `canary` hosts alone and in order, then the rest
`parallel` at a time; a failure stops the line, and with `rollback-all` every host switched in
this run goes back to its previous release, in parallel.

Pure orchestration: what one host's deploy or rollback does is a callable given in (the real
ones, over SSH, are in tasks/fleet/hosts.py), so the shape is tested with stand-ins. Each host
runs in its own daemon thread; this thread only schedules, waits (by deadline), and takes
Ctrl-C: no new host starts, hosts in flight finish (and release their locks), the summary
is still printed.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tasks.fleet.gate import Gate
from tasks.steps.build import BuildKey, BuiltImage

# What a host ends as, in the summary and the fleet record.
DEPLOYED, UP_TO_DATE, ROLLED_BACK = "deployed", "up to date", "rolled back"
FAILED, NOT_STARTED, IN_FLIGHT = "failed", "not started", "in flight"
# How long a host past its deadline may take to give up its connection before it is left.
DEADLINE_GRACE = 60.0
POLL = 0.2  # how soon a Ctrl-C is acted on


@dataclass
class HostOutcome:
    """What one host's deploy (or rollback) came to. `switched`: the new release runs there
    because of this run (what rollback-all undoes)."""

    state: str
    step: str = ""
    cause: str = ""
    switched: bool = False
    detail: str = ""  # e.g. "v2 answers at http://…"
    report: dict = field(default_factory=dict)


@dataclass
class HostRecord:
    host: str
    state: str = NOT_STARTED
    step: str = ""
    cause: str = ""
    detail: str = ""
    switched: bool = False
    seconds: float = 0.0
    rollback: str = ""  # what rollback-all did here, if anything
    report: dict = field(default_factory=dict)
    started: float = 0.0

    def take(self, outcome: HostOutcome) -> None:
        self.state, self.step, self.cause = outcome.state, outcome.step, outcome.cause
        self.switched, self.detail, self.report = outcome.switched, outcome.detail, outcome.report
        self.seconds = round(time.monotonic() - self.started, 2)

    def line(self) -> str:
        what = f"failed ({self.step}: {self.cause})" if self.state == FAILED else self.state
        extra = self.rollback or self.detail
        return what + (f"; {extra}" if extra else "")


@dataclass(frozen=True)
class Shape:
    canary: int = 1
    parallel: int = 1
    on_failure: str = "stop"
    host_deadline: float = 1800.0


HostWork = Callable[[str], HostOutcome]


class Fleet:
    """One rollout over `hosts`. `deploy(host)` and `roll_back(host)` return a HostOutcome
    (and do not raise for expected failures); `expire(host)` is called when a host passes its
    deadline (close its connection, so the step in progress fails); `say` prints a line.
    `gate`: with one, the first `parallel` hosts after the canaries start beside the last
    canary and wait at the gate before their release (their deploy is handed it)."""

    def __init__(
        self,
        hosts: list[str],
        shape: Shape,
        deploy: HostWork,
        roll_back: HostWork,
        *,
        expire: Callable[[str], None] = lambda host: None,
        say: Callable[[str], None] = print,
        gate: Gate | None = None,
    ) -> None:
        self.hosts, self.shape = list(hosts), shape
        self.gate, self._staging = gate or Gate(), gate is not None
        self.canaries = set(self.hosts[: shape.canary])
        self._deploy, self._roll_back, self._expire, self.say = deploy, roll_back, expire, say
        self.records = {host: HostRecord(host) for host in self.hosts}
        self.interrupted = self.halted = False
        self.started_at = time.time()
        self.seconds = self.rollback_seconds = 0.0
        self._done: queue.Queue[tuple[str, HostOutcome]] = queue.Queue()
        self._signals = self._signals_said = 0  # Ctrl-Cs received, and acted on

    # -- the rollout ---------------------------------------------------------------------
    def run(self) -> bool:
        """Deploy every host in the rollout's shape; True when none failed or was left out."""
        began = time.monotonic()
        canaries = self.canaries
        if not canaries:
            self.gate.open()
        with self._ctrl_c_noted():
            self._run_all(deque(self.hosts), self._deploy, canaries, self.shape.parallel)
            self.gate.shut()  # decided already, unless no canary ever ended (a no-op then)
            if self.failed and self.shape.on_failure == "rollback-all" and not self.interrupted:
                self.roll_back_switched()
        self.seconds = round(time.monotonic() - began, 2)
        return not self.failed and not self.interrupted

    @property
    def failed(self) -> list[HostRecord]:
        return [r for r in self.records.values() if r.state == FAILED]

    def counts(self) -> str:
        states = [r.state for r in self.records.values()]
        finished = sum(s in (DEPLOYED, UP_TO_DATE, ROLLED_BACK) for s in states)
        return (
            f"fleet: {finished} done, {states.count(FAILED)} failed, "
            f"{states.count(IN_FLIGHT)} in flight, {states.count(NOT_STARTED)} not started"
        )

    def roll_back_switched(self) -> None:
        """Every host switched in this run goes back to its previous release, all at once."""
        switched = [r.host for r in self.records.values() if r.switched]
        if not switched:
            return
        self.say(f"fleet: rolling back {len(switched)} host(s) switched in this run")
        began = time.monotonic()
        self.halted = False
        for host in switched:
            self.records[host].rollback = "rolling back"
        self._run_all(deque(switched), self._roll_back, set(), len(switched), rollback=True)
        self.rollback_seconds = round(time.monotonic() - began, 2)

    # -- scheduling ----------------------------------------------------------------------
    def _run_all(
        self,
        pending: deque[str],
        work: HostWork,
        canaries: set[str],
        parallel: int,
        *,
        rollback: bool = False,
    ) -> None:
        in_flight: dict[str, float] = {}  # host -> deadline (monotonic)
        expired: dict[str, float] = {}  # host -> when it is given up for good
        while pending or in_flight:
            self._notice_ctrl_c(in_flight)
            while (
                pending
                and not self.halted
                and self._may_start(pending[0], in_flight, canaries, parallel)
            ):
                host = pending.popleft()
                in_flight[host] = self._start(host, work, rollback)
            if not in_flight:
                break
            self._wait_one(in_flight, expired, rollback)

    def _may_start(
        self, host: str, in_flight: dict[str, float], canaries: set[str], parallel: int
    ) -> bool:
        flying = sum(h in canaries for h in in_flight)
        if flying:  # a canary goes alone; with a gate, hosts after it may start up to the gate
            others = len(in_flight) - flying
            return self._staging and host not in canaries and others < parallel
        started = sum(r.state != NOT_STARTED for r in self.records.values())
        limit = 1 if started < len(canaries) else parallel
        return len(in_flight) < limit

    def _start(self, host: str, work: HostWork, rollback: bool) -> float:
        record = self.records[host]
        if not rollback:
            record.state, record.started = IN_FLIGHT, time.monotonic()

        def body() -> None:
            try:
                outcome = work(host)
            except BaseException as exc:  # a bug in one host's work must not hang the fleet
                outcome = HostOutcome(FAILED, "fleet", f"{type(exc).__name__}: {exc}")
            self._done.put((host, outcome))

        kind = "rollback" if rollback else "deploy"
        threading.Thread(target=body, name=f"{kind} {host}", daemon=True).start()
        return time.monotonic() + self.shape.host_deadline

    def _wait_one(
        self, in_flight: dict[str, float], expired: dict[str, float], rollback: bool
    ) -> None:
        soonest = min([*in_flight.values(), *expired.values()])
        try:
            wait = min(POLL, max(0.01, soonest - time.monotonic()))
            host, outcome = self._done.get(timeout=wait)
        except queue.Empty:
            self._past_deadline(in_flight, expired, rollback)
            return
        if host not in in_flight:
            return  # a host left behind at its deadline, ending late: it stays failed
        in_flight.pop(host)
        expired.pop(host, None)
        self._finished(host, outcome, rollback)

    def _past_deadline(
        self, in_flight: dict[str, float], expired: dict[str, float], rollback: bool
    ) -> None:
        now = time.monotonic()
        for host in [h for h, at in in_flight.items() if at <= now and h not in expired]:
            self.say(f"{host}: past its deadline ({self.shape.host_deadline:.0f} s): stopping it")
            expired[host] = now + DEADLINE_GRACE
            in_flight[host] = expired[host]
            self._expire(host)
        for host in [h for h, at in expired.items() if at <= now]:
            cause = f"still running {DEADLINE_GRACE:.0f} s after its deadline; left behind"
            in_flight.pop(host), expired.pop(host)
            self._finished(host, HostOutcome(FAILED, "deadline", cause), rollback)

    def _finished(self, host: str, outcome: HostOutcome, rollback: bool) -> None:
        record = self.records[host]
        if rollback:
            ok = outcome.state == ROLLED_BACK
            record.rollback = outcome.detail if ok else f"rollback failed: {outcome.cause}"
            if ok:
                record.switched = False
                if record.state != FAILED:  # a failed host keeps its cause; the rollback is noted
                    record.state = ROLLED_BACK
            self.say(f"{host}: {record.rollback}")
            return
        record.take(outcome)
        if outcome.state == FAILED:
            self.halted = True
            self.gate.shut()
            self.say(f"{host}: failed at {outcome.step}: {outcome.cause}")
        elif all(self.records[c].state in (DEPLOYED, UP_TO_DATE) for c in self.canaries):
            self.gate.open()
        self.say(self.counts())

    @contextmanager
    def _ctrl_c_noted(self) -> Iterator[None]:
        """Ctrl-C sets a flag the scheduling loop reads (a KeyboardInterrupt could land between
        starting a host and noting it); a second Ctrl-C is noted the same way."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def noted(signum: int, frame: object) -> None:
            self._signals += 1

        previous = signal.signal(signal.SIGINT, noted)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _notice_ctrl_c(self, in_flight: dict[str, float]) -> None:
        if self._signals == self._signals_said:
            return
        self._signals_said = self._signals
        if not self.interrupted:
            self.say("fleet: interrupted: no new host starts; hosts in flight finish and unlock")
        else:
            self.say(f"fleet: still waiting for {len(in_flight)} host(s) in flight to finish")
        self.interrupted = self.halted = True
        self.gate.shut()


class Rollout:
    """What one `fab` run shares across its hosts: the images built, each host's outcome."""

    def __init__(self) -> None:
        self.built: dict[BuildKey, BuiltImage] = {}
        self.outcomes: dict[str, tuple[str, str]] = {}
        self.cli_hosts: list[str] | None = None  # -H, for a task that drives the fleet

    def __copy__(self) -> Rollout:
        # Invoke copies config values when it merges its layers; a run has one Rollout.
        return self

    def record(self, keys: tuple[str, ...], outcome: str, detail: str) -> None:
        """Keep the outcome under every name -H may have used for the host."""
        for key in keys:
            self.outcomes[key] = (outcome, detail)
