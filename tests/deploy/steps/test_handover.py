"""The handover against a fake runner: the order of what it sends."""

import os
import signal
from dataclasses import replace

import pytest

from tasks.commands import docker, scripts
from tasks.commands.docker import stop_for_good
from tasks.commands.shell import chain, then
from tasks.errors import DeployError
from tasks.facts.container import ContainerState
from tasks.steps.handover import NO_MIGRATION, Retire, finish, hand_over, promote
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import settings

SHARING = ContainerState(
    name="dtma", running=True, network_mode="host", restart_policy="unless-stopped",
    labels={"dtma.version": "v1", docker.HANDOVER_LABEL: "reuseport"},
)  # fmt: skip
PUBLISHING = ContainerState(
    name="dtma", running=True, network_mode="default", restart_policy="unless-stopped",
    labels={"dtma.version": "v1"},
)  # fmt: skip
WAITED = scripts.wait_listening(30000, "dtma-candidate", 3, "holds")
RENAMES = [
    docker.remove_if_present("dtma-previous"),
    docker.rename("dtma", "dtma-previous"),
    docker.rename("dtma-candidate", "dtma"),
]
S = settings("http://agent")


def test_an_agent_that_shares_the_port_is_stopped_only_once_the_new_one_serves():
    remote = FakeRemote()
    hand_over(remote, S, Retire(SHARING, "dtma-previous"))
    assert remote.sent == [
        promote("dtma-candidate"),
        WAITED,  # on the host: the candidate's own process listens on the public port
        chain(stop_for_good("dtma"), *RENAMES),
    ]
    assert remote.tunneled == []  # no request is sent: the port is checked where it is


def test_an_agent_that_publishes_the_port_itself_is_stopped_before_the_new_one_binds():
    remote = FakeRemote()
    hand_over(remote, S, Retire(PUBLISHING, "dtma-previous"))
    assert remote.sent == [
        promote("dtma-candidate"),
        stop_for_good("dtma"),
        WAITED,
        chain(*RENAMES),
    ]


def test_a_first_release_only_takes_the_name():
    remote = FakeRemote()
    hand_over(remote, S, Retire(None, "dtma-previous"))
    assert remote.sent == [
        promote("dtma-candidate"),
        WAITED,
        docker.rename("dtma-candidate", "dtma"),
    ]


def test_a_candidate_that_never_serves_publicly_is_removed_and_the_old_agent_restarted():
    never = result(stderr="container dtma-candidate does not listen on port 30000 after 3 s\n")
    remote = FakeRemote().answer("dtma-wait-port", with_=replace(never, exit_code=4))
    with pytest.raises(DeployError) as failure:
        hand_over(remote, S, Retire(PUBLISHING, "dtma-previous"))
    assert failure.value.step == "release"
    assert "does not listen on port 30000" in failure.value.cause
    assert "previous agent serves" in failure.value.hint
    assert remote.sent[-1] == then(
        stop_for_good("dtma-candidate"),
        docker.remove_if_present("dtma-candidate"),
        docker.set_restart("dtma", "unless-stopped"),
        docker.start("dtma"),
    )


def test_a_kernel_without_request_migration_is_said_not_fatal(capsys):
    remote = FakeRemote().answer("dtma-migrate", with_=result(NO_MIGRATION + "\n"))
    hand_over(remote, S, Retire(SHARING, "dtma-previous"))
    assert "net.ipv4.tcp_migrate_req" in capsys.readouterr().out


def test_finish_without_keeping_removes_the_old_agent():
    remote = FakeRemote()
    finish(remote, settings("http://agent"), Retire(SHARING), stop_old=True)
    assert remote.sent == [
        chain(stop_for_good("dtma"), docker.remove("dtma"), docker.rename("dtma-candidate", "dtma"))
    ]


def test_drain_later_renames_the_old_agent_running_and_leaves_its_stop_to_the_caller():
    remote = FakeRemote()
    switched = hand_over(remote, S, Retire(SHARING, "dtma-previous"), drain_later=True)
    assert remote.sent == [promote("dtma-candidate"), WAITED, chain(*RENAMES)]
    assert switched.draining == "dtma-previous"


def test_drain_later_stops_at_once_what_it_could_not_keep_under_another_name():
    remote = FakeRemote()
    switched = hand_over(remote, S, Retire(SHARING), drain_later=True)
    assert remote.sent[-1] == chain(
        stop_for_good("dtma"), docker.remove("dtma"), docker.rename("dtma-candidate", "dtma")
    )
    assert switched.draining == ""


def test_an_agent_stopped_before_the_switch_leaves_nothing_to_drain():
    remote = FakeRemote()
    switched = hand_over(remote, S, Retire(PUBLISHING, "dtma-previous"), drain_later=True)
    assert switched.draining == ""
    assert remote.sent[1] == stop_for_good("dtma")


def test_the_old_agent_is_stopped_once_whoever_asks_first():
    remote = FakeRemote()
    switched = hand_over(remote, S, Retire(SHARING, "dtma-previous"), drain_later=True)
    switched.stop_old()
    switched.stop_old(check=False)  # the deploy's way out, after verify stopped it
    assert remote.sent[3:] == [stop_for_good("dtma-previous")]


def test_a_ctrl_c_held_during_the_switch_stops_the_old_agent_before_it_is_raised():
    def ctrl_c(argv: list[str]) -> None:
        if "dtma-wait-port" in argv:
            os.kill(os.getpid(), signal.SIGINT)  # noted by the hold, raised once it ends

    remote = FakeRemote()
    remote.on_command = ctrl_c
    with pytest.raises(KeyboardInterrupt):
        hand_over(remote, S, Retire(SHARING, "dtma-previous"), drain_later=True)
    assert remote.sent[2:] == [chain(*RENAMES), stop_for_good("dtma-previous")]
