"""The rollout's shape, with stand-ins for one host's deploy and rollback (the real ones run
over SSH and are tested end to end in tests/deploy/e2e/test_fleet.py)."""

from __future__ import annotations

import _thread
import threading
import time

from tasks.fleet.rollout import (
    DEPLOYED,
    FAILED,
    NOT_STARTED,
    ROLLED_BACK,
    Fleet,
    HostOutcome,
    Shape,
)

HOSTS = [f"h{i}" for i in range(1, 7)]


class StandIn:
    """Each host's deploy takes `seconds`; hosts in `failing` fail at `candidate` in a quarter
    of that (before the hosts beside them finish)."""

    def __init__(self, seconds: float = 0.05, failing: tuple[str, ...] = ()):
        self.seconds, self.failing = seconds, failing
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.most_at_once = 0
        self.events: list[tuple[str, str]] = []
        self.rolled_back: list[str] = []

    def deploy(self, host: str) -> HostOutcome:
        with self.lock:
            self.running.add(host)
            self.most_at_once = max(self.most_at_once, len(self.running))
            self.events.append(("start", host))
        time.sleep(self.seconds / 4 if host in self.failing else self.seconds)
        with self.lock:
            self.running.discard(host)
            self.events.append(("end", host))
        if host in self.failing:
            return HostOutcome(FAILED, "candidate", "crashed at start")
        return HostOutcome(DEPLOYED, switched=True, detail="v2")

    def roll_back(self, host: str) -> HostOutcome:
        with self.lock:
            self.rolled_back.append(host)
        return HostOutcome(ROLLED_BACK, detail="rolled back to dtma:v1, verified")


def fleet(stand_in: StandIn, hosts=HOSTS, **shape) -> Fleet:
    return Fleet(hosts, Shape(**shape), stand_in.deploy, stand_in.roll_back, say=lambda _: None)


def test_canary_goes_alone_then_the_rest_m_at_a_time():
    stand_in = StandIn()
    run = fleet(stand_in, canary=2, parallel=3)
    assert run.run() is True
    assert stand_in.events[:4] == [("start", "h1"), ("end", "h1"), ("start", "h2"), ("end", "h2")]
    assert stand_in.most_at_once == 3
    assert all(r.state == DEPLOYED for r in run.records.values())
    assert "6 done, 0 failed, 0 in flight, 0 not started" in run.counts()


def test_defaults_are_one_host_at_a_time_in_order():
    stand_in = StandIn(seconds=0.01)
    assert fleet(stand_in).run() is True
    assert [host for kind, host in stand_in.events if kind == "start"] == HOSTS
    assert stand_in.most_at_once == 1


def test_a_failed_canary_stops_the_line():
    stand_in = StandIn(failing=("h1",))
    run = fleet(stand_in, canary=1, parallel=4, on_failure="rollback-all")
    assert run.run() is False
    assert run.records["h1"].line() == "failed (candidate: crashed at start)"
    assert [r.state for r in list(run.records.values())[1:]] == [NOT_STARTED] * 5
    assert stand_in.rolled_back == []


def test_stop_lets_hosts_in_flight_finish_and_leaves_the_rest_untouched():
    stand_in = StandIn(seconds=0.2, failing=("h2",))
    run = fleet(stand_in, canary=1, parallel=2)
    assert run.run() is False
    states = {host: r.state for host, r in run.records.items()}
    assert states == {
        "h1": DEPLOYED,
        "h2": FAILED,
        "h3": DEPLOYED,  # was in flight beside h2: it finishes
        "h4": NOT_STARTED,
        "h5": NOT_STARTED,
        "h6": NOT_STARTED,
    }
    assert stand_in.rolled_back == []


def test_rollback_all_takes_back_every_host_switched_in_this_run():
    stand_in = StandIn(seconds=0.2, failing=("h3",))
    run = fleet(stand_in, canary=1, parallel=3, on_failure="rollback-all")
    assert run.run() is False
    assert sorted(stand_in.rolled_back) == ["h1", "h2", "h4"]
    assert run.records["h1"].state == ROLLED_BACK
    assert run.records["h1"].line() == "rolled back; rolled back to dtma:v1, verified"
    assert run.records["h3"].state == FAILED and run.records["h5"].state == NOT_STARTED


def test_a_host_past_its_deadline_is_stopped_and_fails():
    released = threading.Event()

    def stuck(host: str) -> HostOutcome:
        if host == "h2":
            released.wait(10)  # until its connection is closed (expire)
            return HostOutcome(FAILED, "ship", "SSH failed: connection closed")
        return HostOutcome(DEPLOYED, switched=True)

    shape = Shape(canary=1, parallel=2, host_deadline=0.3)
    run = Fleet(HOSTS[:3], shape, stuck, stuck, expire=lambda h: released.set(), say=print)
    started = time.monotonic()
    assert run.run() is False
    assert time.monotonic() - started < 5
    assert run.records["h2"].line() == "failed (ship: SSH failed: connection closed)"


def test_ctrl_c_starts_no_new_host_and_waits_for_those_in_flight():
    def deploy(host: str) -> HostOutcome:
        if host == "h2":
            _thread.interrupt_main()  # Ctrl-C while h2 and h3 are in flight
        time.sleep(0.3)
        return HostOutcome(DEPLOYED, switched=True)

    run = Fleet(HOSTS, Shape(canary=1, parallel=2), deploy, deploy, say=lambda _: None)
    assert run.run() is False
    assert run.interrupted
    states = [r.state for r in run.records.values()]
    assert states == [DEPLOYED, DEPLOYED, DEPLOYED, NOT_STARTED, NOT_STARTED, NOT_STARTED]


def test_a_bug_in_one_host_is_that_host_failing():
    def deploy(host: str) -> HostOutcome:
        raise RuntimeError("boom")

    run = Fleet(["a"], Shape(), deploy, deploy, say=lambda _: None)
    assert run.run() is False
    assert run.records["a"].line() == "failed (fleet: RuntimeError: boom)"
