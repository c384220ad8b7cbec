"""The handover against a fake runner and a stub agent: the order of what it sends."""

import pytest

from tasks.commands import docker, scripts
from tasks.commands.docker import stop_for_good
from tasks.commands.shell import chain, then
from tasks.errors import DeployError
from tasks.facts.container import ContainerState
from tasks.steps.handover import NO_MIGRATION, Retire, finish, hand_over, promote
from tests.support.agent_stub import AgentStub
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import KEY, inspect_answer, settings

SHARING = ContainerState(
    name="dtma", running=True, network_mode="host", restart_policy="unless-stopped",
    labels={"dtma.version": "v1", docker.HANDOVER_LABEL: "reuseport"},
)  # fmt: skip
PUBLISHING = ContainerState(
    name="dtma", running=True, network_mode="default", restart_policy="unless-stopped",
    labels={"dtma.version": "v1"},
)  # fmt: skip
WAITED = scripts.wait_listening(30000, "dtma-candidate", 3)
RENAMES = [
    docker.remove_if_present("dtma-previous"),
    docker.rename("dtma", "dtma-previous"),
    docker.rename("dtma-candidate", "dtma"),
]


def public_answers(instance: str) -> tuple[AgentStub, FakeRemote]:
    agent = AgentStub(key=KEY, version="v2", instance=instance)
    remote = FakeRemote().answer("inspect", with_=inspect_answer("dtma-candidate"))
    remote.tunnels[30000] = agent.url
    return agent, remote


def test_an_agent_that_shares_the_port_is_stopped_only_once_the_new_one_serves():
    agent, remote = public_answers("new")
    with agent:
        hand_over(remote, settings(agent.url), "new", Retire(SHARING, "dtma-previous"))
    assert remote.tunneled == [30000]
    assert remote.sent == [
        promote("dtma-candidate"),
        WAITED,
        chain(stop_for_good("dtma"), *RENAMES),
    ]


def test_an_agent_that_publishes_the_port_itself_is_stopped_before_the_new_one_binds():
    agent, remote = public_answers("new")
    with agent:
        hand_over(remote, settings(agent.url), "new", Retire(PUBLISHING, "dtma-previous"))
    assert remote.sent == [
        promote("dtma-candidate"),
        stop_for_good("dtma"),
        WAITED,
        chain(*RENAMES),
    ]


def test_a_first_release_only_takes_the_name():
    agent, remote = public_answers("new")
    with agent:
        hand_over(remote, settings(agent.url), "new", Retire(None, "dtma-previous"))
    assert remote.sent == [
        promote("dtma-candidate"),
        WAITED,
        docker.rename("dtma-candidate", "dtma"),
    ]


def test_a_candidate_that_never_serves_publicly_is_removed_and_the_old_agent_restarted():
    agent, remote = public_answers("old")  # the port keeps answering as the old agent
    with agent, pytest.raises(DeployError) as failure:
        retire = Retire(PUBLISHING, "dtma-previous")
        hand_over(remote, settings(agent.url, verify_timeout=0.3), "new", retire)
    assert failure.value.step == "release"
    assert "did not take port 30000" in failure.value.cause
    assert "previous agent serves" in failure.value.hint
    assert remote.sent[-1] == then(
        stop_for_good("dtma-candidate"),
        docker.remove_if_present("dtma-candidate"),
        docker.set_restart("dtma", "unless-stopped"),
        docker.start("dtma"),
    )


def test_a_kernel_without_request_migration_is_said_not_fatal(capsys):
    agent, remote = public_answers("new")
    remote.answer("dtma-migrate", with_=result(NO_MIGRATION + "\n"))
    with agent:
        hand_over(remote, settings(agent.url), "new", Retire(SHARING, "dtma-previous"))
    assert "net.ipv4.tcp_migrate_req" in capsys.readouterr().out


def test_finish_without_keeping_removes_the_old_agent():
    remote = FakeRemote()
    finish(remote, settings("http://agent"), Retire(SHARING), stop_old=True)
    assert remote.sent == [
        chain(stop_for_good("dtma"), docker.remove("dtma"), docker.rename("dtma-candidate", "dtma"))
    ]
