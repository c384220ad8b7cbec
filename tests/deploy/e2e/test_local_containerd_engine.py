"""Deploying from an operator's machine whose engine uses the containerd image store (Docker
Desktop's default, Docker 29's): the build and the `docker save` happen on that engine, reached
through DOCKER_HOST, and its archives carry OCI blobs. A containerd-kind sandbox droplet stands
in for that engine; the targets are a droplet of each kind.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tasks import images
from tests.support.contexts import make_context, version_of
from tests.support.deploy import ROOT, fab_argv, latest_report, public_version, verify_urls
from tests.support.sandboxes import sandbox_for_tests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def laptop(docker_client):
    """DOCKER_HOST of an engine with the containerd image store, holding the Python base image
    (it cannot pull one here, as the operator's engine could)."""
    made = sandbox_for_tests("dtma-laptop", engine="containerd")
    box = next(made)
    try:
        pid = docker_client.containers.get(box.name).attrs["State"]["Pid"]
        host = f"unix:///proc/{pid}/root/run/docker.sock"
        base = images.ensure_local_base(docker_client, quiet=True)
        subprocess.run(
            f"docker save {base} | docker -H {host} load -q", shell=True, check=True, timeout=300
        )
        yield host
    finally:
        made.close()


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    base = tmp_path_factory.mktemp("laptop-contexts")
    return {name: make_context(base / name, f"laptop-{name}") for name in ("v1", "v2")}


@pytest.fixture(scope="module", params=["classic", "containerd"])
def target(request):
    yield from sandbox_for_tests(f"dtma-from-laptop-{request.param}", engine=request.param)


def deploy_from(laptop: str, box, context, env_file) -> subprocess.CompletedProcess[str]:
    args = ["deploy", "--context", str(context), "--env-file", str(env_file)]
    args += ["--base-image", images.LOCAL_BASE, "--verify-url", verify_urls([box])]
    return subprocess.run(
        fab_argv([box], *args),
        cwd=ROOT,
        env={**os.environ, "DOCKER_HOST": laptop},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_operators_engine_uses_the_containerd_store(laptop):
    info = subprocess.run(
        ["docker", "-H", laptop, "info", "--format", "{{json .DriverStatus}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "io.containerd.snapshotter" in info.stdout


def test_first_deploy_then_a_code_change_from_a_containerd_engine(
    laptop, target, contexts, env_file
):
    first = deploy_from(laptop, target, contexts["v1"], env_file)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert public_version(target) == version_of(contexts["v1"])
    cold = latest_report(target.host)
    change = deploy_from(laptop, target, contexts["v2"], env_file)
    assert change.returncode == 0, change.stdout[-3000:] + change.stderr[-3000:]
    assert public_version(target) == version_of(contexts["v2"])
    report = latest_report(target.host)
    assert report["outcome"] == "deployed" and report["layers_sent"] == 1, report
    assert not report["fell_back"] and report["bytes_sent"] * 1000 <= cold["bytes_sent"]
    print(
        f"\nfrom a containerd engine to {target.engine}: cold {cold['bytes_sent']} B, "
        f"code change {report['bytes_sent']} B"
    )
    again = deploy_from(laptop, target, contexts["v2"], env_file)
    assert again.returncode == 0 and latest_report(target.host)["outcome"] == "already up to date"
