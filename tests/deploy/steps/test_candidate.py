"""The candidate against a fake runner: what it sends when it passes and when it fails."""

import pytest

from tasks.commands import docker, scripts
from tasks.commands.shell import chain, with_stderr
from tasks.errors import DeployError
from tasks.steps.candidate import check_candidate
from tests.support.agent_stub import AgentStub
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import KEY, settings, settle_answer

START = chain(
    docker.remove_if_present("dtma-candidate"),
    docker.create(
        "dtma-candidate",
        "dtma:v2",
        env_file="/etc/dtma/dtma.env",
        publish="127.0.0.1:30001:30000",
        restart="no",
    ),
    docker.start("dtma-candidate"),
)


def test_a_passing_candidate_is_started_checked_and_kept_for_the_release():
    with AgentStub(key=KEY, version="v2") as agent:
        remote = FakeRemote().answer("sh", "-c", with_=settle_answer("dtma-candidate"))
        remote.tunnel_url = agent.url
        check_candidate(remote, settings(agent.url), "dtma:v2", "v2", keep=True)
    assert remote.sent == [START, scripts.settle_probe("dtma-candidate", 0.01, None)]


def test_a_passing_candidate_is_removed_unless_kept():
    with AgentStub(key=KEY, version="v2") as agent:
        remote = FakeRemote().answer("sh", "-c", with_=settle_answer("dtma-candidate"))
        remote.tunnel_url = agent.url
        check_candidate(remote, settings(agent.url), "dtma:v2", "v2")
    assert remote.sent[-1] == docker.remove_if_present("dtma-candidate")


def test_a_candidate_that_does_not_start_is_refused_with_its_logs_and_removed(capsys):
    remote = FakeRemote()
    remote.answer("docker", "create", with_=result(exit_code=125, stderr="Error: port taken"))
    remote.answer("docker", "logs", with_=result("boom\n"))
    with pytest.raises(DeployError) as failure:
        check_candidate(remote, settings("http://agent"), "dtma:v2", "v2", keep=True)
    assert failure.value.step == "candidate"
    assert failure.value.cause == "could not start: Error: port taken"
    assert "running agent was not touched" in failure.value.hint
    assert remote.sent == [
        START,
        with_stderr(docker.logs("dtma-candidate", tail=50)),
        docker.remove_if_present("dtma-candidate"),
    ]
    assert "boom" in capsys.readouterr().out


def test_a_candidate_with_the_wrong_version_is_refused():
    with AgentStub(key=KEY, version="v1") as agent:
        remote = FakeRemote()
        remote.tunnel_url = agent.url
        with pytest.raises(DeployError, match="reports version 'v1', expected 'v2'"):
            check_candidate(remote, settings(agent.url), "dtma:v2", "v2", keep=True)
    assert remote.sent[0] == START
    assert remote.sent[-1] == docker.remove_if_present("dtma-candidate")
