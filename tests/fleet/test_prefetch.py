"""The hosts after the canaries pull the image while the canaries run (fake runners): each is
asked once, a failure costs only the head start, and the digest reference goes at the end
from every host it was pulled to."""

from __future__ import annotations

from tasks.errors import DeployError
from tasks.fleet.prefetch import Prefetch
from tests.support.fake_remote import FakeRemote, result

REFERENCE = "reg.example/team/dtma@sha256:" + "c" * 64


def test_each_host_pulls_once_then_loses_the_digest_reference():
    remotes = {host: FakeRemote(host=host) for host in ("b", "c", "d")}
    Prefetch(remotes.__getitem__, list(remotes), REFERENCE).close()
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

    Prefetch(remote, ["b", "c", "d"], REFERENCE).close()
    assert not refused.sent_with("docker", "image", "rm")  # nothing was pulled there
    assert fine.sent_with("docker", "image", "rm", REFERENCE)
