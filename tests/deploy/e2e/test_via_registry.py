"""`fab deploy --registry REGISTRY/REPO` to four sandbox droplets through a real registry
(Debian's docker-registry, TLS from a test CA): pushed once, each host pulls by digest, nothing
of the image travels from this machine; a private registry the host is not logged in to fails
in one line with the running agent untouched, and works once the host has logged in."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tasks.sandbox.registry import running_registry, trust_in
from tests.support.contexts import ROOT, make_context, version_of
from tests.support.deploy import fab_argv, on_host, public_version, verify_urls
from tests.support.registry import logged_in
from tests.support.sandboxes import sandbox_for_tests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]
PASSWORD = "pull-pass-1c2d3e4f5a6b"


@pytest.fixture(scope="module")
def boxes():
    generators = [sandbox_for_tests(f"pull-{i}") for i in range(4)]
    try:
        yield [next(generator) for generator in generators]
    finally:
        for generator in generators:
            generator.close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory, boxes):
    with running_registry(tmp_path_factory.mktemp("registry")) as running:
        for box in boxes:
            trust_in(box.name, running)
        yield running


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    base = tmp_path_factory.mktemp("pull-contexts")
    return {name: make_context(base / name, f"pull-{name}") for name in ("v1", "v2", "v3")}


def deploy(boxes, context, env_file, *extra, docker_config=None):
    args = ["deploy", "--context", str(context), "--env-file", str(env_file)]
    argv = fab_argv(boxes, *args, "--verify-url", verify_urls(boxes), *extra)
    env = dict(os.environ)
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def latest_fleet_report() -> dict:
    newest = max((ROOT / "reports").glob("fleet-*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(newest.read_text())


def repositories_on(box) -> set[str]:
    listed = on_host(box, "docker image ls --format '{{.Repository}}'")
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


def test_a_fleet_pulls_from_the_registry_pushed_once(boxes, registry, contexts, env_file):
    repository = registry.repository("fleet/dtma")
    for context in (contexts["v1"], contexts["v2"]):  # fresh droplets, then a code change
        extra = ("--registry", repository, "--canary", "1", "--parallel", "3")
        done = deploy(boxes, context, env_file, *extra)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
        pushing = f"local: pushing {repository}:{version_of(context)} ("
        assert done.stdout.count(pushing) == 1 and "local: layer 1/" in done.stdout
        assert "fleet: the other 3 host(s) pull it while the canary runs" in done.stdout
        assert {public_version(box) for box in boxes} == {version_of(context)}
        report = latest_fleet_report()
        assert report["outcome"] == "deployed" and len(report["hosts"]) == 4
        for host in report["hosts"]:
            assert host["report"]["pulled_from"].startswith(f"{repository}@sha256:")
            assert host["report"]["bytes_sent"] == 0  # the layers came from the registry
        print(f"\nfleet of 4 through the registry: {report['total_seconds']} s")
    for box in boxes:  # named as a deploy names it; no digest reference keeps old layers
        held = repositories_on(box)
        assert "dtma" in held and not any(r.startswith(registry.address) for r in held), held
    last = latest_fleet_report()["hosts"][0]["report"]
    assert 0 < last["layers_sent"] < last["layers_total"]  # the code change: its own layers


def test_a_private_registry_the_host_is_not_logged_in_to(boxes, contexts, env_file, tmp_path):
    box = boxes[0]
    before = public_version(box)
    with running_registry(tmp_path / "private", user="ops", password=PASSWORD) as private:
        trust_in(box.name, private)
        here = logged_in(tmp_path / "docker", private.address, "ops", PASSWORD)
        extra = ("--registry", private.repository("team/dtma"))
        refused = deploy([box], contexts["v3"], env_file, *extra, docker_config=here)
        assert refused.returncode == 1
        last = refused.stderr.strip().splitlines()[-1]
        assert last.startswith(
            f"error: {box.host}: pull failed: registry {private.address} refused the pull"
        )
        assert f"docker login {private.address}" in last and "agent is untouched" in last
        assert public_version(box) == before
        assert on_host(box, "test -e /var/lib/dtma-deploy/lock").returncode != 0
        login = f"docker login -u ops --password-stdin {private.address} <<'EOF'\n{PASSWORD}\nEOF"
        assert on_host(box, login).returncode == 0
        done = deploy([box], contexts["v3"], env_file, *extra, docker_config=here)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        assert public_version(box) == version_of(contexts["v3"])
        for said in (refused.stdout + refused.stderr, done.stdout + done.stderr):
            assert PASSWORD not in said
