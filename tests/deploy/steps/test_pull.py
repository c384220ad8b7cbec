"""The pull step of `--registry` against a fake runner: the one exchange it sends, what it
concludes from the host's answer, and the one line each kind of refusal gets."""

from __future__ import annotations

import pytest

from tasks.commands.shell import to_shell
from tasks.errors import DeployError
from tasks.steps.build import BuiltImage
from tasks.steps.publish import Published, Target
from tasks.steps.pull import pull, pull_command, pull_refused
from tests.support.fake_remote import FakeRemote, result
from tests.support.save_archive import FakeImage

REGISTRY = "registry.example:5000"
DIGEST = "sha256:" + "ab" * 32
PUBLISHED = Published(Target(f"{REGISTRY}/team/dtma", "v2"), DIGEST)


@pytest.fixture
def image() -> FakeImage:
    return FakeImage("dtma:v2", [b"base", b"code"])


def built_of(image: FakeImage) -> BuiltImage:
    return BuiltImage(
        ref="dtma:v2",
        version="v2",
        image_id=image.id,
        size=image.attrs["Size"],
        diff_ids=tuple(image.diff_ids),
        fingerprint=image.fingerprint,
    )


def test_one_exchange_pulls_by_digest_names_it_and_drops_the_digest_reference():
    line = to_shell(pull_command(PUBLISHED.reference, "dtma:v2"))
    reference = f"{REGISTRY}/team/dtma@{DIGEST}"
    assert line.startswith(f"docker pull --quiet {reference} && docker tag {reference} dtma:v2")
    assert f"docker tag {reference} dtma:latest" in line
    assert f"docker image rm {reference}" in line  # else the old release's layers never go
    assert line.endswith(" dtma:v2")  # then what a fingerprint reads of the deploy's name


def test_a_pulled_image_matching_the_build_is_shipped(image):
    remote = FakeRemote().answer("docker", "pull", with_=result(image.inspected() + "\n"))
    shipped = pull(remote, PUBLISHED, built_of(image), host_fingerprint="", layers_missing=1)
    assert shipped.bytes_sent == 0 and shipped.layers_sent == 1 and not shipped.full
    assert len(remote.sent_with("docker", "pull")) == 1 and len(remote.lines()) == 1


def test_a_host_already_holding_the_image_pulls_nothing(image):
    remote = FakeRemote()
    built = built_of(image)
    shipped = pull(remote, PUBLISHED, built, host_fingerprint=built.fingerprint, layers_missing=0)
    assert shipped.layers_sent == 0 and not remote.sent_with("docker", "pull")
    assert remote.sent_with("docker", "tag", "dtma:v2", "dtma:latest")


def test_a_pulled_image_unlike_the_build_is_refused(image):
    other = FakeImage("dtma:v2", [b"base", b"other code"])
    remote = FakeRemote().answer("docker", "pull", with_=result(other.inspected() + "\n"))
    with pytest.raises(DeployError) as refused:
        pull(remote, PUBLISHED, built_of(image), host_fingerprint="", layers_missing=1)
    assert refused.value.step == "pull" and "not the image built here" in refused.value.cause


@pytest.mark.parametrize(
    ("stderr", "cause", "hint"),
    [
        (
            "Error response from daemon: Head ...: no basic auth credentials",
            f"registry {REGISTRY} refused the pull",
            f"ssh root@h docker login {REGISTRY}",
        ),
        (
            "Error response from daemon: manifest for x not found: manifest unknown",
            "does not hold the image",
            "push it again",
        ),
        (
            "Error response from daemon: Get ...: x509: certificate signed by unknown authority",
            "does not trust",
            f"/etc/docker/certs.d/{REGISTRY}/ca.crt",
        ),
        (
            "Error response from daemon: Get ...: dial tcp: connection refused",
            f"cannot pull from registry {REGISTRY}",
            f"must reach {REGISTRY}",
        ),
    ],
)
def test_each_refusal_says_why_and_what_to_do(stderr, cause, hint):
    error = pull_refused("root@h:22", "ssh root@h", REGISTRY, "some progress\n" + stderr + "\n")
    assert error.step == "pull" and cause in error.cause and stderr in error.cause
    assert hint in error.hint and "the running agent is untouched" in error.hint


def test_a_failed_pull_is_one_error_line(image):
    denied = result("", 1, "Error response from daemon: pull access denied for x")
    remote = FakeRemote().answer("docker", "pull", with_=denied)
    with pytest.raises(DeployError) as refused:
        pull(remote, PUBLISHED, built_of(image), host_fingerprint="", layers_missing=2)
    assert str(refused.value).startswith(f"root@droplet:22: pull failed: registry {REGISTRY}")
    assert "\n" not in str(refused.value)
