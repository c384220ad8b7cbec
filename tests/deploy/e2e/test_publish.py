"""`fab publish` into a real registry (Debian's docker-registry, TLS from a test CA): a droplet
provisioned exactly as Agentopia's user-data does it pulls the published reference and serves
the smoke suite with no `fab` step; a broken image is never pushed; a private registry refuses
bad credentials in one line."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from tasks import sandbox
from tasks.sandbox import agentopia
from tasks.sandbox.registry import running_registry, trust_in
from tests.faults.support import run_smoke
from tests.support.agentopia import dtma_manager_facts
from tests.support.contexts import ROOT, make_context
from tests.support.deploy import FAB
from tests.support.ports import free_port
from tests.support.registry import logged_in
from tests.support.sandboxes import ENGINE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PASSWORD = "registry-pass-5e6f7a8b9c0d"
REFERENCE = re.compile(r"^published (\S+@sha256:[0-9a-f]{64})$", re.M)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with running_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def publish(to: str, *args: str, docker_config: Path | None = None):
    env = dict(os.environ)
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
    argv = [str(FAB), "publish", "--to", to, *args]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def tags(registry, repository: str, auth: tuple[str, str] | None = None) -> list[str]:
    url = f"https://{registry.address}/v2/{repository}/tags/list"
    got = requests.get(url, verify=registry.folder / "ca.crt", auth=auth, timeout=10)
    return (got.json().get("tags") or []) if got.status_code == 200 else []


def test_a_published_image_runs_under_agentopias_own_lines_and_serves_the_smoke_suite(registry):
    done = publish(registry.repository("team/dtma"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    reference = REFERENCE.search(done.stdout).group(1)
    assert f"supabase secrets set DTMA_DOCKER_IMAGE_URL={reference}" in done.stdout
    name = f"born-{os.urandom(3).hex()}"
    try:
        box = sandbox.up(name, free_port(), free_port(), engine=ENGINE, quiet=True)
        trust_in(name, registry)  # a real droplet trusts its registry's public CA
        droplet = agentopia.provision(box, agent_image=reference)
        manager = dtma_manager_facts(name)
        assert manager.image == reference and manager.restart_policy == "always"
        # No fab step: the smoke suite against what Agentopia's two lines started.
        smoke = run_smoke(
            box.agent_url,
            droplet.env_file,
            "--ssh", box.host, "--ssh-key", str(box.key_path),
            "--known-hosts", str(sandbox.KNOWN_HOSTS), "--container", agentopia.MANAGER,
        )  # fmt: skip
        assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-1000:]
        assert "not checked  restart-policy" not in smoke.stdout
        # ... and later taken over like any Agentopia droplet, then given back as it was.
        fab = [str(FAB), "-H", box.host, "-i", str(box.key_path)]
        adopt = [*fab, "deploy", "--adopt", "--env-from-host", "--verify-url", box.agent_url]
        adopted = subprocess.run(adopt, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert adopted.returncode == 0, adopted.stdout[-2000:] + adopted.stderr[-2000:]
        back = [*fab, "rollback", "--env-from-host", "--verify-url", box.agent_url]
        given = subprocess.run(back, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert given.returncode == 0, given.stdout[-2000:] + given.stderr[-2000:]
        again = dtma_manager_facts(name)
        assert again.image == reference and again.state == "running"
    finally:
        sandbox.down(name)


def test_an_image_failing_the_candidate_checks_is_never_pushed(registry, tmp_path):
    broken = make_context(
        tmp_path / "broken", "exits at start", 'CMD ["python3", "-c", "raise SystemExit(3)"]\n'
    )
    done = publish(registry.repository("team/broken"), "--context", str(broken))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(
        "error: local: publish failed: the image fails a candidate's checks"
    )
    assert "nothing was pushed" in lines[-1] and "exited (code 3)" in lines[-1]
    assert tags(registry, "team/broken") == []


def test_a_private_registry_takes_the_engines_login_and_refuses_a_wrong_one(tmp_path):
    with running_registry(tmp_path / "private", user="ops", password=PASSWORD) as private:
        target = private.repository("team/dtma")
        wrong = logged_in(tmp_path / "wrong", private.address, "ops", "not-the-password")
        refused = publish(target, docker_config=wrong)
        assert refused.returncode == 1
        last = refused.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: local: publish failed: registry {private.address} refused")
        assert f"docker login {private.address}" in last
        right = logged_in(tmp_path / "right", private.address, "ops", PASSWORD)
        done = publish(target, docker_config=right)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert tags(private, "team/dtma", auth=("ops", PASSWORD))
        for said in (refused.stdout + refused.stderr, done.stdout + done.stderr):
            assert PASSWORD not in said and "not-the-password" not in said


def test_publish_without_a_target_says_how(tmp_path):
    done = subprocess.run(
        [str(FAB), "publish"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "give --to REGISTRY/REPO[:TAG]" in done.stderr
