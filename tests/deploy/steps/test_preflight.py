"""preflight against a fake runner: one survey round trip, and the refusals it decides."""

import pytest

from tasks.commands import scripts
from tasks.errors import DeployError
from tasks.steps.preflight import check_disk, check_host
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import settings, survey_answer


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
        (survey_answer(publish30000="other "), "port 30000 is held by container other"),
        (survey_answer(listen30001="1"), "port 30001 is held by a process outside Docker"),
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


def test_our_own_containers_may_hold_the_ports():
    remote = FakeRemote().answer("sh", with_=survey_answer(publish30000="dtma ", listen30000="1"))
    assert check_host(remote, settings("http://agent")).publishers[30000] == ["dtma"]


def test_disk_needs_twice_what_is_sent():
    check_disk("h", 2_000, 1_000)
    with pytest.raises(DeployError, match=r"1\.0 KB free, need 2\.0 KB"):
        check_disk("h", 1_000, 1_000)
    with pytest.raises(DeployError, match="could not read the free disk space"):
        check_disk("h", None, 1)
