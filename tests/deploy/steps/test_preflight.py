"""preflight against a fake runner: one survey round trip, and the refusals it decides."""

import pytest

from tasks.commands import scripts
from tasks.errors import DeployError
from tasks.steps.preflight import check_disk, check_host
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import (
    NO_SUCH_CONTAINER,
    inspect_answer,
    settings,
    survey_answer,
)


def test_a_fresh_host_is_one_survey_and_nothing_else():
    remote = FakeRemote().answer("sh", "-c", scripts.SURVEY, with_=survey_answer())
    found = check_host(remote, settings("http://agent"), "dtma:abc")
    assert remote.sent == [
        scripts.survey(
            container="dtma",
            image_ref="dtma:abc",
            env_file="/etc/dtma/dtma.env",
            lock_dir="/var/lib/dtma-deploy/lock",
            ports=(30000, 30001),
        )
    ]
    assert found.docker_version == "20.10.24" and not found.running


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (survey_answer(docker=""), "the Docker engine does not answer"),
        (survey_answer(listen30000="1"), "port 30000 is held by a process outside Docker"),
        (survey_answer(publish30001="other "), "port 30001 is held by container other"),
        (result(exit_code=127, stderr=scripts.NO_DOCKER), scripts.NO_DOCKER),
    ],
)
def test_refusals_name_host_step_and_cause(answer, cause):
    remote = FakeRemote().answer("sh", with_=answer)
    with pytest.raises(DeployError) as failure:
        check_host(remote, settings("http://agent"))
    assert (failure.value.host, failure.value.step) == ("root@droplet:22", "preflight")
    assert failure.value.cause == cause
    assert len(remote.sent) == 1


def test_a_listener_on_the_check_port_without_our_candidate_is_refused():
    remote = FakeRemote().answer("sh", with_=survey_answer(listen30001="1"))
    remote.answer("inspect", with_=NO_SUCH_CONTAINER)
    with pytest.raises(DeployError, match="port 30001 is held by a process outside Docker"):
        check_host(remote, settings("http://agent"))


def test_a_port_held_by_a_container_not_ours_is_refused_naming_it_and_adopt():
    remote = FakeRemote().answer("sh", "-c", with_=survey_answer(publish30000="dtma_manager "))
    remote.answer("inspect", with_=inspect_answer("dtma_manager"))
    with pytest.raises(DeployError) as failure:
        check_host(remote, settings("http://agent"))
    assert "dtma_manager: image dtma:v1" in failure.value.cause
    assert "--adopt" in failure.value.hint and "nothing was changed" in failure.value.hint


def test_with_adopt_the_container_holding_the_port_is_the_one_to_adopt():
    remote = FakeRemote().answer("sh", with_=survey_answer(publish30000="dtma_manager "))
    found = check_host(remote, settings("http://agent", adopt=True))
    assert found.adoptee == "dtma_manager"


def test_an_agent_on_the_host_network_holds_the_port_without_publishing_it():
    answer = survey_answer(running="sha256:a true dtma:v1 host", listen30000="1")
    remote = FakeRemote().answer("sh", with_=answer)
    assert check_host(remote, settings("http://agent")).network_mode == "host"


def test_our_own_containers_may_hold_the_ports():
    remote = FakeRemote().answer("sh", with_=survey_answer(publish30000="dtma ", listen30000="1"))
    assert check_host(remote, settings("http://agent")).publishers[30000] == ["dtma"]


def test_disk_needs_twice_what_is_sent():
    check_disk("h", 2_000, 1_000)
    with pytest.raises(DeployError, match=r"1\.0 KB free, need 2\.0 KB"):
        check_disk("h", 1_000, 1_000)
    with pytest.raises(DeployError, match="could not read the free disk space"):
        check_disk("h", None, 1)


def test_an_image_for_another_machine_is_refused_before_the_host_is_touched():
    from tasks.steps.preflight import check_platform

    check_platform("h", "linux/amd64", "linux/amd64")
    check_platform("h", "linux/arm64/v8", "linux/arm64")  # a variant is no other machine
    check_platform("h", "linux/amd64", "")  # an old survey said nothing: no refusal
    with pytest.raises(DeployError) as refused:
        check_platform("root@droplet", "linux/arm64", "linux/amd64")
    message = str(refused.value)
    assert "root@droplet" in message and "preflight" in message
    assert "linux/arm64" in message and "linux/amd64" in message
    assert "nothing was changed" in message
