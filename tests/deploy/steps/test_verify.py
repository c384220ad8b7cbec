"""verify's container checks against a fake runner: one settle probe, Docker's verdict read."""

import json

import pytest

from tasks.commands import docker, scripts
from tasks.errors import VerifyFailed
from tasks.facts.container import parse_settle_probe
from tasks.steps.verify import settle_and_health, settled
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import container, settle_answer

TEST = ("CMD-SHELL", "curl -f http://127.0.0.1:30000/health")


def probe(healthcheck: str, health: str | None = None, restarts_after: int = 0) -> object:
    state = container("dtma", restarts=restarts_after)
    if health:
        state["State"]["Health"] = {"Status": health}
    return result(f"restarts=0\nhealthcheck={healthcheck}\n{json.dumps([state])}")


def test_the_health_check_runs_inside_the_window_in_one_round_trip():
    remote = FakeRemote().answer("sh", "-c", with_=probe("0", "starting"))
    verdict = settle_and_health(remote, "dtma", 3.0, healthcheck=TEST, health_timeout=90)
    assert verdict == "healthy (healthcheck run at verify)"
    assert remote.sent == [
        scripts.settle_probe("dtma", 3.0, docker.healthcheck_exec("dtma", TEST, 30.0))
    ]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (probe("none", "unhealthy"), "Docker reports container dtma unhealthy"),
        (probe("none", restarts_after=1), "restarted during 3 s"),
        (result("restarts=0\nhealthcheck=none\n"), "does not exist"),
    ],
)
def test_what_fails_the_window(answer, message):
    remote = FakeRemote().answer("sh", "-c", with_=answer)
    with pytest.raises(VerifyFailed, match=message):
        settle_and_health(remote, "dtma", 3.0, health_timeout=90)


def test_without_a_health_check_docker_says_none():
    remote = FakeRemote().answer("sh", "-c", with_=settle_answer("dtma"))
    assert settle_and_health(remote, "dtma", 3.0, health_timeout=90) == "none"
    assert settle_and_health(remote, "dtma", 3.0) == ""  # only stability was asked


def test_probe_of_a_missing_container_fails_verify():
    with pytest.raises(VerifyFailed, match="does not exist"):
        settled("dtma", parse_settle_probe("restarts=\nhealthcheck=none\n"), 1.0)
