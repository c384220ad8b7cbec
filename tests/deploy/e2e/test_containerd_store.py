"""The deploy paths on a droplet whose engine uses the containerd image store (Docker 29's
default on fresh installs): an image's id there is its manifest's digest, not its config's,
and `docker load` takes no `docker save` archive that lacks a layer.

One droplet carries the story in order: first deploy, a code change (a partial OCI layout:
only the changed layer travels), no change, --full, rollback, release.
"""

from __future__ import annotations

import pytest

from tests.support.contexts import make_context, version_of
from tests.support.deploy import KEY, TOKEN, deploy, fab, latest_report, on_host, public_version
from tests.support.sandboxes import sandbox_for_tests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    base = tmp_path_factory.mktemp("contexts")
    return {name: make_context(base / name, name) for name in ("v1", "v2")}


@pytest.fixture(scope="module")
def box():
    yield from sandbox_for_tests("dtma-ctrd", engine="containerd")


def succeeded(result) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for secret in (TOKEN, KEY):
        assert secret not in result.stdout and secret not in result.stderr


def test_the_droplet_uses_the_containerd_image_store(box):
    status = on_host(box, "docker info --format '{{json .DriverStatus}}'").stdout
    assert "io.containerd.snapshotter" in status


def test_first_deploy_then_a_code_change_sends_only_the_changed_layer(box, contexts, env_file):
    first = deploy([box], contexts["v1"], env_file)
    succeeded(first)
    assert public_version(box) == version_of(contexts["v1"])
    cold = latest_report(box.host)
    assert cold["outcome"] == "deployed" and cold["layers_sent"] == cold["layers_total"]

    change = deploy([box], contexts["v2"], env_file)
    succeeded(change)
    assert public_version(box) == version_of(contexts["v2"])
    report = latest_report(box.host)
    assert report["outcome"] == "deployed"
    assert report["layers_sent"] == 1 and not report["fell_back"], report
    assert report["bytes_sent"] * 1000 <= cold["bytes_sent"], (report, cold)
    print(f"\ncontainerd store: cold {cold['bytes_sent']} B, code change {report['bytes_sent']} B")
    # The image loaded from the partial archive is whole: the engine can save it again.
    saved = on_host(box, f"docker save dtma:{version_of(contexts['v2'])} | wc -c").stdout
    assert int(saved.strip()) > cold["image_bytes"] // 2


def test_no_change_is_recognised_and_only_verified(box, contexts, env_file):
    again = deploy([box], contexts["v2"], env_file)
    succeeded(again)
    report = latest_report(box.host)
    assert report["outcome"] == "already up to date" and report["bytes_sent"] == 0


def test_full_sends_the_whole_image_and_it_loads(box, contexts, env_file):
    result = deploy([box], contexts["v2"], env_file, "--full", "--restart-anyway")
    succeeded(result)
    report = latest_report(box.host)
    assert report["outcome"] == "deployed" and report["layers_sent"] == report["layers_total"]
    assert public_version(box) == version_of(contexts["v2"])


def test_rollback_and_release_of_an_image_on_the_host(box, contexts, env_file):
    back = fab([box], "rollback", "--env-file", str(env_file), "--verify-url", box.agent_url)
    succeeded(back)
    # --full --restart-anyway released v2 again: the previous release is v2 too, or v1.
    assert public_version(box) in {version_of(contexts["v1"]), version_of(contexts["v2"])}
    v1 = f"dtma:{version_of(contexts['v1'])}"
    release = fab(
        [box], "release", "--image", v1, "--env-file", str(env_file), "--verify-url", box.agent_url
    )
    succeeded(release)
    assert public_version(box) == version_of(contexts["v1"])
