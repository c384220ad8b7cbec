"""With a gate, the hosts after the canaries get as far as their candidate while the canaries
run and wait there (stand-ins for one host's deploy): they go on once every canary passed, and
leave as they were when the rollout stops before their turn."""

from __future__ import annotations

import threading
import time

from tasks.fleet.gate import Gate
from tasks.fleet.rollout import DEPLOYED, FAILED, NOT_STARTED, Fleet, HostOutcome, Shape

HOSTS = [f"h{i}" for i in range(1, 7)]


class GatedStandIn:
    """A canary takes `seconds`; another host prepares in a tenth of that, then asks the gate;
    hosts in `failing` fail at once."""

    def __init__(self, gate: Gate, seconds: float = 0.3, failing: tuple[str, ...] = ()):
        self.gate, self.seconds, self.failing = gate, seconds, failing
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.canaries: set[str] = set()

    def note(self, kind: str, host: str) -> None:
        with self.lock:
            self.events.append((kind, host))

    def deploy(self, host: str) -> HostOutcome:
        self.note("start", host)
        if host in self.failing:
            return HostOutcome(FAILED, "preflight", "the Docker engine does not answer")
        if host in self.canaries:
            time.sleep(self.seconds)
            self.note("end", host)
            return HostOutcome(DEPLOYED, switched=True)
        time.sleep(self.seconds / 10)
        if not self.gate.passed():
            self.note("left", host)
            return HostOutcome(NOT_STARTED, detail="its candidate removed")
        self.note("release", host)
        return HostOutcome(DEPLOYED, switched=True)


def gated(stand_in: GatedStandIn, **shape) -> Fleet:
    run = Fleet(
        HOSTS,
        Shape(**shape),
        stand_in.deploy,
        stand_in.deploy,
        say=lambda _: None,
        gate=stand_in.gate,
    )
    stand_in.canaries = run.canaries
    return run


def test_the_next_hosts_start_beside_the_canary_and_release_only_after_it():
    stand_in = GatedStandIn(Gate())
    run = gated(stand_in, canary=1, parallel=2)
    assert run.run() is True
    events = stand_in.events
    canary_end = events.index(("end", "h1"))
    assert events.index(("start", "h2")) < canary_end  # beside the canary, no more than 2
    assert events.index(("start", "h3")) < canary_end
    assert events.index(("start", "h4")) > canary_end
    assert all(events.index(("release", h)) > canary_end for h in HOSTS[1:])
    assert all(r.state == DEPLOYED for r in run.records.values())


def test_a_failed_canary_leaves_the_hosts_at_the_gate_as_they_were():
    stand_in = GatedStandIn(Gate(), failing=("h1",))
    run = gated(stand_in, canary=1, parallel=3)
    assert run.run() is False
    states = {host: r.state for host, r in run.records.items()}
    assert states["h1"] == FAILED
    assert all(state == NOT_STARTED for host, state in states.items() if host != "h1")
    assert not any(kind == "release" for kind, _ in stand_in.events)


def test_a_host_failing_at_the_gate_stops_the_line_and_shuts_it():
    stand_in = GatedStandIn(Gate(), failing=("h2",))
    run = gated(stand_in, canary=1, parallel=2)
    assert run.run() is False
    states = {host: r.state for host, r in run.records.items()}
    assert states["h1"] == DEPLOYED and states["h2"] == FAILED  # the canary in flight finishes
    assert ("left", "h3") in stand_in.events and states["h3"] == NOT_STARTED
    assert not any(kind == "release" for kind, _ in stand_in.events)


def test_without_canaries_the_gate_is_open_from_the_start():
    stand_in = GatedStandIn(Gate())
    run = gated(stand_in, canary=0, parallel=6)
    assert run.run() is True
    assert {h for kind, h in stand_in.events if kind == "release"} == set(HOSTS)


def test_a_gate_decides_once():
    gate = Gate()
    gate.shut()
    gate.open()
    assert gate.passed() is False
