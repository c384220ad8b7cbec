"""`fab deploy --do-tag / --hosts-file`: the host list is made and printed before anything
else happens (here the env file is bad, so nothing else does: no build, no host)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.contexts import ROOT
from tests.support.deploy import FAB
from tests.support.digitalocean import DigitalOceanStandIn, droplet

TOKEN = "dop_v1_standin_" + "a7" * 16


def fab_deploy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DTMA_DEPLOY_")}
    return subprocess.run(
        [str(FAB), "deploy", *args],
        cwd=ROOT,
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def bad_env_file(tmp_path):
    path = tmp_path / "incomplete.env"
    path.write_text("DTMA_BEARER_TOKEN=x\n")
    return path


def test_do_tag_lists_both_pages_through_fab_before_anything_else(tmp_path, bad_env_file):
    droplets = [droplet(i, f"toolbox-{i}", f"127.0.1.{i}", ["dtma"]) for i in range(1, 211)]
    droplets.append(droplet(999, "no-address", None, ["dtma"]))
    with DigitalOceanStandIn(tmp_path, TOKEN, droplets) as api:
        env = {
            "DIGITALOCEAN_TOKEN": TOKEN,
            "DTMA_DEPLOY_DO_API": api.endpoint,
            "REQUESTS_CA_BUNDLE": str(api.cert),
        }
        done = fab_deploy("--do-tag", "dtma", "--env-file", str(bad_env_file), env=env)
        pages = [q["page"] for q in api.requests]
    assert pages == [["1"], ["2"]]
    listed = "root@127.0.1.1, root@127.0.1.2, "
    assert f"fleet: 210 host(s) from DigitalOcean tag 'dtma': {listed}" in done.stdout
    assert "root@127.0.1.210\n" in done.stdout
    assert "fleet: skipped droplet no-address: no public IPv4" in done.stdout
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: local: preflight failed")
    assert TOKEN not in done.stdout + done.stderr


def test_do_tag_without_a_token_is_one_line(bad_env_file):
    done = fab_deploy("--do-tag", "dtma", env={"DIGITALOCEAN_TOKEN": ""})
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: --do-tag needs a DigitalOcean API token: set DIGITALOCEAN_TOKEN"
    )


def test_missing_hosts_file_and_no_hosts_are_one_line(tmp_path):
    done = fab_deploy("--hosts-file", str(tmp_path / "nope"))
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"error: cannot read hosts file {tmp_path / 'nope'}")
    nothing = fab_deploy()
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == (
        "error: no hosts: give -H host[,host…], --hosts-file FILE or --do-tag TAG"
    )
