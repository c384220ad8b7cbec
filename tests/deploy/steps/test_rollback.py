"""Rollback against a fake runner: after a failed verify, on a first deploy, and on request."""

import pytest

from tasks.commands import docker, scripts
from tasks.commands.shell import chain, with_stderr
from tasks.errors import DeployError, VerifyFailed
from tasks.steps.rollback import roll_back_after, switch_to_previous
from tests.support.agent_stub import AgentStub
from tests.support.fake_remote import FakeRemote
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
        labels={"dtma.version": "v1"},
    )


def test_a_failed_verify_brings_the_previous_release_back_and_checks_it():
    with AgentStub(key=KEY, version="v1") as agent:
        remote = FakeRemote()
        remote.tunnels[30000] = agent.url
        remote.answer("docker", "container", "inspect", "dtma", with_=inspect_answer("dtma"))
        remote.answer("inspect", "dtma-previous", with_=inspect_answer("dtma-previous"))
        remote.answer("sh", "-c", with_=settle_answer("dtma"))
        error = roll_back_after(remote, settings(agent.url), VerifyFailed("/health: no"), "v2")
    assert (error.step, error.cause, error.hint) == (
        "verify",
        "/health: no",
        "rolled back to dtma:v1",
    )
    assert remote.sent == [
        with_stderr(docker.logs("dtma", tail=50)),
        docker.inspect("dtma-previous"),
        chain(
            docker.remove_if_present("dtma"),
            RECREATED_AS("dtma"),
            docker.remove("dtma-previous"),
            docker.start("dtma"),
        ),
        docker.inspect("dtma"),
        scripts.settle_probe("dtma", 0.01, None),
    ]


def test_a_failed_first_deploy_is_stopped_and_left_for_inspection():
    remote = FakeRemote().answer("inspect", "dtma-previous", with_=NO_SUCH_CONTAINER)
    error = roll_back_after(remote, settings("http://agent"), VerifyFailed("boom"), "v1")
    assert "nothing to roll back to" in error.hint
    assert remote.sent[-1] == docker.stop("dtma")


def test_fab_rollback_swaps_current_and_previous():
    remote = FakeRemote()
    remote.answer("inspect", "dtma-previous", with_=inspect_answer("dtma-previous"))
    remote.answer("inspect", "dtma", with_=inspect_answer("dtma", version="v1"))
    restored = switch_to_previous(remote, settings("http://agent"))
    assert restored is not None and restored.version == "v1"
    assert remote.sent[1:3] == [
        chain(
            docker.remove_if_present("dtma-rollback"),
            docker.remove_if_present("dtma-restored"),
            RECREATED_AS("dtma-restored"),
        ),
        chain(
            docker.rename("dtma", "dtma-rollback"),
            docker.rename("dtma-restored", "dtma"),
            docker.stop("dtma-rollback"),
            docker.start("dtma"),
            docker.remove("dtma-previous"),
            docker.rename("dtma-rollback", "dtma-previous"),
        ),
    ]


def test_fab_rollback_without_a_previous_release_changes_nothing():
    remote = FakeRemote().answer("inspect", "dtma-previous", with_=NO_SUCH_CONTAINER)
    with pytest.raises(DeployError, match="no dtma-previous container"):
        switch_to_previous(remote, settings("http://agent"))
    assert remote.sent == [docker.inspect("dtma-previous")]
