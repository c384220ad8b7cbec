"""Rollback against a fake runner: after a failed verify, on a first deploy, and on request."""

import pytest

from tasks.commands import docker
from tasks.commands.docker import stop_for_good
from tasks.commands.shell import chain
from tasks.errors import DeployError, VerifyFailed
from tasks.facts.container import RELEASED_LABEL
from tasks.steps import release
from tasks.steps.handover import promote
from tasks.steps.rollback import roll_back_after, switch_to_previous
from tests.support.agent_stub import AgentStub
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import (
    KEY,
    NO_SUCH_CONTAINER,
    inspect_answer,
    settings,
    settle_answer,
)


def RECREATED_AS(name: str) -> list[str]:
    """The previous release's image and labels with TODAY's env file, never its old one."""
    return docker.create(
        name,
        "dtma:v1",
        env_file="/etc/dtma/dtma.env",
        publish="30000:30000",
        labels={"dtma.version": "v1", RELEASED_LABEL: "then"},
    )


def test_a_failed_verify_hands_the_port_back_to_the_previous_release_and_checks_it(monkeypatch):
    monkeypatch.setattr(release, "release_labels", lambda v: {"dtma.deployed_at": "now"})
    with AgentStub(key=KEY, version="v1") as agent:
        remote = FakeRemote()
        remote.tunnel_url = agent.url
        remote.answer("inspect", "dtma", with_=inspect_answer("dtma", handover=True))
        remote.answer(
            "inspect", "dtma-previous", with_=inspect_answer("dtma-previous", handover=True)
        )
        remote.answer("sh", "-c", with_=settle_answer("dtma"))
        error = roll_back_after(remote, settings(agent.url), VerifyFailed("/health: no"), "v2")
    assert (error.step, error.cause, error.hint) == (
        "verify",
        "/health: no",
        "rolled back to dtma:v1",
    )
    candidate = docker.create_agent(
        "dtma-candidate",
        "dtma:v1",
        env_file="/etc/dtma/dtma.env",  # today's env file
        check_port=30001,
        labels={"dtma.version": "v1", "dtma.handover": "reuseport", "dtma.deployed_at": "now"},
    )
    started = chain(
        docker.remove_if_present("dtma-candidate"), candidate, docker.start("dtma-candidate")
    )
    assert started in remote.sent
    assert promote("dtma-candidate") in remote.sent
    assert (
        chain(stop_for_good("dtma"), docker.remove("dtma"), docker.rename("dtma-candidate", "dtma"))
        in remote.sent
    )
    assert remote.sent.index(promote("dtma-candidate")) > 0
    assert docker.remove("dtma-previous") in remote.sent


def test_a_previous_release_that_publishes_its_port_comes_back_in_its_old_shape():
    with AgentStub(key=KEY, version="v1") as agent:
        remote = FakeRemote()
        remote.tunnels[30000] = agent.url
        remote.answer("inspect", "dtma", with_=inspect_answer("dtma"))
        remote.answer("inspect", "dtma-previous", with_=inspect_answer("dtma-previous"))
        remote.answer("sh", "-c", with_=settle_answer("dtma"))
        error = roll_back_after(remote, settings(agent.url), VerifyFailed("/health: no"), "v2")
    assert error.hint == "rolled back to dtma:v1"
    assert remote.sent[2] == chain(
        docker.remove_if_present("dtma-rolled-back"),
        docker.stop_for_good("dtma"),
        docker.rename("dtma", "dtma-rolled-back"),
        RECREATED_AS("dtma"),
        docker.remove("dtma-previous"),
        docker.start("dtma"),
        docker.remove("dtma-rolled-back"),
    )


def test_an_adopted_container_comes_back_under_its_name_and_restart_policy():
    forwarder = {"dtma.role": "forwarder", "dtma.adopted_name": "dtma_manager",
                 "dtma.adopted_restart": "always"}  # fmt: skip
    remote = FakeRemote()
    remote.answer("inspect", "dtma-previous", with_=inspect_answer("dtma-previous", labels={}))
    remote.answer("docker", "ps", with_=result("f0\n"))
    remote.answer("inspect", "f0", with_=inspect_answer("dtma_manager", labels=forwarder))
    remote.answer("inspect", "dtma_manager", with_=inspect_answer("dtma_manager", labels={}))
    restored = switch_to_previous(remote, settings("http://agent"))
    assert restored is not None and restored.name == "dtma_manager"
    assert (
        chain(
            docker.stop_for_good("dtma"),
            docker.remove("dtma_manager"),
            docker.rename("dtma-previous", "dtma_manager"),
            docker.set_restart("dtma_manager", "always"),
            docker.rename("dtma", "dtma-previous"),
        )
        in remote.sent
    )
    assert remote.sent[-2] == docker.start("dtma_manager")  # after relinking, when it must


def test_a_failed_first_deploy_is_stopped_and_left_for_inspection():
    remote = FakeRemote().answer("inspect", "dtma-previous", with_=NO_SUCH_CONTAINER)
    error = roll_back_after(remote, settings("http://agent"), VerifyFailed("boom"), "v1")
    assert "nothing to roll back to" in error.hint
    assert remote.sent[-1] == docker.stop("dtma")


def test_fab_rollback_without_a_previous_release_changes_nothing():
    remote = FakeRemote().answer("inspect", "dtma-previous", with_=NO_SUCH_CONTAINER)
    with pytest.raises(DeployError, match="no dtma-previous container"):
        switch_to_previous(remote, settings("http://agent"))
    assert remote.sent == [docker.inspect("dtma-previous")]
