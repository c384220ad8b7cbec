"""The release against a fake runner: a first release and one that replaces an agent."""

import pytest

from tasks.commands import docker
from tasks.commands.shell import chain, then
from tasks.errors import DeployError
from tasks.steps import release
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import NO_SUCH_CONTAINER, inspect_answer, settings


@pytest.fixture(autouse=True)
def fixed_labels(monkeypatch):
    """Who deployed and when vary from run to run; the argv is compared exactly."""
    monkeypatch.setattr(release, "release_labels", lambda version: {"dtma.version": version})


def new_agent(version: str) -> list[str]:
    return docker.create(
        "dtma",
        f"dtma:{version}",
        env_file="/etc/dtma/dtma.env",
        publish="30000:30000",
        labels={"dtma.version": version},
    )


def test_first_release_creates_and_starts_the_agent():
    remote = FakeRemote().answer("docker", "container", "inspect", with_=NO_SUCH_CONTAINER)
    release.swap(
        remote, settings("http://agent"), "dtma:v1", "v1", remove_first=("dtma-candidate",)
    )
    assert remote.sent == [
        docker.inspect("dtma"),
        chain(
            docker.remove_if_present("dtma-candidate"),
            docker.remove_if_present("dtma-previous"),
            new_agent("v1"),
        ),
        docker.start("dtma"),
    ]


def test_a_release_sets_the_running_agent_aside_and_cuts_over_in_one_round_trip():
    remote = FakeRemote().answer("docker", "container", "inspect", with_=inspect_answer("dtma"))
    release.swap(remote, settings("http://agent"), "dtma:v2", "v2")
    assert remote.sent == [
        docker.inspect("dtma"),
        chain(
            docker.remove_if_present("dtma-previous"),
            docker.rename("dtma", "dtma-previous"),
            new_agent("v2"),
        ),
        chain(docker.stop("dtma-previous"), docker.start("dtma")),
    ]


def test_a_failed_create_puts_the_running_agent_back_and_says_so():
    remote = FakeRemote().answer("docker", "container", "inspect", with_=inspect_answer("dtma"))
    remote.answer("docker", "create", with_=result(exit_code=125, stderr="Error: no such image"))
    with pytest.raises(DeployError) as failure:
        release.swap(remote, settings("http://agent"), "dtma:v2", "v2")
    assert (failure.value.step, failure.value.cause) == ("release", "Error: no such image")
    assert remote.sent[-1] == then(
        docker.remove_if_present("dtma"), docker.rename("dtma-previous", "dtma")
    )
