"""The hosts after the canaries receive the image while the canaries run (fake runners): each
is asked once, in order and no more at a time than asked; a failure costs only the head start;
what a head start left goes at the end from the hosts whose deploy did not start (a digest
reference from every host)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from tasks.errors import DeployError
from tasks.fleet.prefetch import Prefetch, pulling
from tests.support.fake_remote import FakeRemote, result

REFERENCE = "reg.example/team/dtma@sha256:" + "c" * 64
LOADED = "dtma:v2"


def test_each_host_pulls_once_then_loses_the_digest_reference():
    remotes = {host: FakeRemote(host=host) for host in ("b", "c", "d")}
    fetch = pulling(SimpleNamespace(remote=remotes.__getitem__), REFERENCE)
    Prefetch(remotes.__getitem__, list(remotes), fetch, 3, everywhere=True).close(started="bcd")
    for remote in remotes.values():
        assert remote.sent_with("docker", "pull", "--quiet", REFERENCE)
        assert remote.sent_with("docker", "image", "rm", REFERENCE)
        assert len(remote.lines()) == 2


def test_a_host_that_fails_or_cannot_be_reached_keeps_nothing_and_stops_nothing():
    refused = FakeRemote(host="b").answer("docker", "pull", with_=result("", 1, "denied"))
    fine = FakeRemote(host="d")

    def remote(host: str) -> FakeRemote:
        if host == "c":
            raise DeployError(host, "connect", "timed out", "check the host")
        return {"b": refused, "d": fine}[host]

    fetch = pulling(SimpleNamespace(remote=remote), REFERENCE)
    Prefetch(remote, ["b", "c", "d"], fetch, 3, everywhere=True).close()
    assert not refused.sent_with("docker", "image", "rm")  # nothing was pulled there
    assert fine.sent_with("docker", "image", "rm", REFERENCE)


def test_what_was_loaded_goes_only_from_the_hosts_whose_deploy_did_not_start():
    remotes = {host: FakeRemote(host=host) for host in ("b", "c", "d")}
    left = {"b": LOADED, "c": LOADED, "d": None}  # d held the image already
    prefetch = Prefetch(remotes.__getitem__, list(remotes), left.get, 1)
    prefetch.wait("d")  # the last in line: every head start is over
    prefetch.close(started=["b"])
    assert not remotes["b"].lines()  # its deploy took the image over
    assert remotes["c"].sent_with("docker", "image", "rm", LOADED)
    assert not remotes["d"].lines()


def test_one_at_a_time_in_order_and_a_deploy_waits_for_its_own_head_start():
    order: list[str] = []
    release = threading.Event()

    def fetch(host: str) -> None:
        order.append(host)
        if host == "b":
            release.wait(10)
        time.sleep(0.05)

    prefetch = Prefetch(FakeRemote, ["b", "c", "d"], fetch, 1)
    waited = threading.Thread(target=prefetch.wait, args=("c",))
    waited.start()
    time.sleep(0.2)
    assert order == ["b"] and waited.is_alive()  # c waits behind b, and so does its deploy
    release.set()
    waited.join(10)
    assert not waited.is_alive() and order[:2] == ["b", "c"]
    prefetch.wait("d")
    prefetch.close()
    assert order == ["b", "c", "d"]


def test_close_drops_the_head_starts_not_begun():
    began: list[str] = []
    blocker = threading.Event()

    def fetch(host: str) -> None:
        began.append(host)
        blocker.wait(10)

    prefetch = Prefetch(FakeRemote, ["b", "c", "d"], fetch, 1)
    time.sleep(0.1)
    threading.Timer(0.2, blocker.set).start()
    prefetch.close()  # an interrupted fleet does not wait for every host's transfer
    assert began == ["b"]
