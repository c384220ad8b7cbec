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
    docker.create_agent(
        "dtma-candidate",
        "dtma:v2",
        env_file="/etc/dtma/dtma.env",
        check_port=30001,
        labels={"dtma.version": "v2"},
    ),
    docker.start("dtma-candidate"),
)


LABELS = {"dtma.version": "v2"}


def test_a_passing_candidate_is_started_checked_on_its_check_port_and_kept():
    with AgentStub(key=KEY, version="v2", instance="cand-7") as agent:
        remote = FakeRemote().answer("sh", "-c", with_=settle_answer("dtma-candidate"))
        remote.tunnels[30001] = agent.url
        instance = check_candidate(remote, settings(agent.url), "dtma:v2", "v2", LABELS)
    assert instance == "cand-7"
    assert remote.tunneled == [30001]
    waited = scripts.wait_listening(30001, "dtma-candidate", 3, "owned")
    assert remote.sent == [START, waited, scripts.settle_probe("dtma-candidate", 0, None)]


def test_a_candidate_that_cannot_say_which_instance_it_is_cannot_be_handed_over():
    with AgentStub(key=KEY, version="v2", instance="") as agent:
        remote = FakeRemote().answer("sh", "-c", with_=settle_answer("dtma-candidate"))
        remote.tunnel_url = agent.url
        with pytest.raises(DeployError, match="X-DTMA-Instance"):
            check_candidate(remote, settings(agent.url), "dtma:v2", "v2", LABELS)
    assert remote.sent[-1] == docker.remove_if_present("dtma-candidate")


def test_a_candidate_that_does_not_start_is_refused_with_its_logs_and_removed(capsys):
    remote = FakeRemote()
    remote.answer("docker", "create", with_=result(exit_code=125, stderr="Error: port taken"))
    remote.answer("docker", "logs", with_=result("boom\n"))
    with pytest.raises(DeployError) as failure:
        check_candidate(remote, settings("http://agent"), "dtma:v2", "v2", LABELS)
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
            check_candidate(remote, settings(agent.url), "dtma:v2", "v2", LABELS)
    assert remote.sent[0] == START
    assert remote.sent[-1] == docker.remove_if_present("dtma-candidate")
