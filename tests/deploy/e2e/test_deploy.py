"""`fab deploy` end to end: real `fab` processes, real SSH into sandbox droplets, real Docker.

One sandbox carries the single-host story in order (first deploy, code change, refused
candidates, lock, bad env file, rollback); a second joins for the several-hosts story.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.support.contexts import make_context, version_of
from tests.support.deploy import (
    KEY,
    TOKEN,
    HealthProbe,
    deploy,
    fab,
    fab_argv,
    inspect,
    latest_report,
    on_host,
    public_version,
    verify_urls,
)
from tests.support.readiness import wait_until
from tests.support.sandboxes import sandbox_for_tests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    """Build contexts: v1, v2 (one changed line), and two broken images."""
    base = tmp_path_factory.mktemp("contexts")
    return {
        "v1": make_context(base / "v1", "one"),
        "v2": make_context(base / "v2", "two"),
        "v3": make_context(base / "v3", "three"),
        "crash": make_context(base / "crash", "crash", '\nCMD ["sh", "-c", "exit 1"]\n'),
        "port": make_context(base / "port", "port", "\nENV PORT=3030\n"),
    }


@pytest.fixture(scope="module")
def box_a():
    yield from sandbox_for_tests("dtma-deptest-a")


@pytest.fixture(scope="module")
def box_b():
    yield from sandbox_for_tests("dtma-deptest-b")


def no_secrets(result: subprocess.CompletedProcess[str]) -> None:
    for secret in (TOKEN, KEY):
        assert secret not in result.stdout and secret not in result.stderr


def test_first_deploy_sends_everything_and_runs_as_specified(box_a, contexts, env_file):
    result = deploy([box_a], contexts["v1"], env_file, core=("--echo", "-d"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    no_secrets(result)
    assert public_version(box_a) == version_of(contexts["v1"])
    report = latest_report(box_a.host)
    assert report["outcome"] == "deployed" and report["layers_sent"] == report["layers_total"]
    print(f"\ncold deploy: {report['total_seconds']} s, {report['bytes_sent']} bytes sent")
    state = inspect(box_a, "dtma")
    host_config = state["HostConfig"]
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    # On the host's network (it shares port 30000 with its successor during a handover).
    assert host_config["NetworkMode"] == "host" and not host_config["PortBindings"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in host_config["Binds"]
    assert host_config["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-file": "3", "max-size": "10m"},
    }
    assert state["Config"]["Labels"]["dtma.version"] == version_of(contexts["v1"])
    assert f"BACKEND_TO_DTMA_API_KEY={KEY}" in state["Config"]["Env"]  # quotes were removed
    stat = on_host(box_a, "stat -c '%a %U %G' /etc/dtma/dtma.env").stdout.split()
    assert stat == ["600", "root", "root"]
    audit = on_host(box_a, "tail -n1 /var/log/dtma-deploy.log").stdout
    assert '"outcome": "deployed"' in audit and KEY not in audit and TOKEN not in audit


def test_code_change_redeploy_sends_under_one_percent(box_a, contexts, env_file):
    with HealthProbe(box_a.agent_url) as probe:
        result = deploy([box_a], contexts["v2"], env_file)
        time.sleep(0.3)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = latest_report(box_a.host)
    assert report["bytes_sent"] < 0.01 * report["image_bytes"], result.stdout[-2000:]
    assert report["layers_sent"] < report["layers_total"]
    assert public_version(box_a) == version_of(contexts["v2"])
    assert inspect(box_a, "dtma-previous")["Config"]["Labels"]["dtma.version"] == version_of(
        contexts["v1"]
    )
    print(
        f"\nredeploy: {report['total_seconds']} s, {report['bytes_sent']} of "
        f"{report['image_bytes']} bytes; /health gap {probe.longest_gap:.2f} s"
    )


def test_unchanged_redeploy_leaves_the_agent_running_unless_forced(box_a, contexts, env_file):
    before = inspect(box_a, "dtma")
    result = deploy([box_a], contexts["v2"], env_file)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"{box_a.host}: already up to date" in result.stdout
    report = latest_report(box_a.host)
    assert report["outcome"] == "already up to date" and report["bytes_sent"] == 0
    assert "(already up to date)" in report["verify"]
    assert "candidate" not in report["phases"] and "release" not in report["phases"]
    after = inspect(box_a, "dtma")
    assert (after["Id"], after["State"]["StartedAt"]) == (
        before["Id"],
        before["State"]["StartedAt"],
    )
    audit = on_host(box_a, "tail -n1 /var/log/dtma-deploy.log").stdout
    assert '"outcome": "already up to date"' in audit
    assert on_host(box_a, "test -e /var/lib/dtma-deploy/lock").returncode != 0

    forced = deploy([box_a], contexts["v2"], env_file, "--restart-anyway")
    assert forced.returncode == 0, forced.stdout[-3000:] + forced.stderr[-3000:]
    assert latest_report(box_a.host)["outcome"] == "deployed"
    assert inspect(box_a, "dtma")["Id"] != before["Id"]
    assert public_version(box_a) == version_of(contexts["v2"])


@pytest.mark.parametrize("broken", ["crash", "port"])
def test_broken_candidate_never_touches_the_running_agent(box_a, contexts, env_file, broken):
    before = inspect(box_a, "dtma")
    result = deploy([box_a], contexts[broken], env_file, "--verify-timeout", "20")
    assert result.returncode != 0
    assert "candidate failed" in result.stderr
    assert "the running agent was not touched" in result.stderr
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1].startswith(f"error: {box_a.host}: candidate failed")
    )
    after = inspect(box_a, "dtma")
    assert (
        after["Id"] == before["Id"] and after["State"]["StartedAt"] == before["State"]["StartedAt"]
    )
    assert public_version(box_a) == version_of(contexts["v2"])
    assert inspect(box_a, "dtma-candidate") is None


def test_concurrent_deploy_fails_fast_naming_the_holder(box_a, contexts, env_file):
    args = ["deploy", "--context", str(contexts["v3"]), "--env-file", str(env_file)]
    first = subprocess.Popen(
        fab_argv([box_a], *args, "--verify-url", box_a.agent_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: on_host(box_a, "test -d /var/lib/dtma-deploy/lock").returncode == 0,
            "the first deploy holding the lock",
            gave_up=lambda: None if first.poll() is None else "the first deploy ended",
        )
        second = deploy([box_a], contexts["v3"], env_file)
    finally:
        out, err = first.communicate(timeout=300)
    assert second.returncode != 0
    assert "another deploy holds the lock: " in second.stderr and "pid" in second.stderr
    assert first.returncode == 0, out[-2000:] + err[-2000:]


def test_bad_env_file_is_refused_before_touching_the_host(box_a, contexts, tmp_path):
    bad = tmp_path / "bad.env"
    bad.write_text(f"DTMA_BEARER_TOKEN={TOKEN}\nAGENTOPIA_API_BASE_URL=http://x\n")
    before = on_host(box_a, "sha256sum /etc/dtma/dtma.env").stdout
    result = deploy([box_a], contexts["v1"], bad)
    assert result.returncode == 1
    assert "preflight failed" in result.stderr and "BACKEND_TO_DTMA_API_KEY" in result.stderr
    no_secrets(result)
    assert on_host(box_a, "sha256sum /etc/dtma/dtma.env").stdout == before
    assert on_host(box_a, "test -e /var/lib/dtma-deploy/lock").returncode != 0
    assert public_version(box_a) == version_of(contexts["v3"])


def test_a_host_of_another_platform_is_refused_when_no_image_can_be_built_for_it(
    box_a, contexts, env_file
):
    """The droplet says it is an arm64 machine; the local engine (amd64, its base image local
    only) cannot build for it: one line, and the running agent is untouched."""
    shim = "/usr/local/bin/uname"
    on_host(box_a, f"printf '#!/bin/sh\\necho aarch64\\n' > {shim} && chmod +x {shim}")
    try:
        assert on_host(box_a, "uname -m").stdout.strip() == "aarch64"
        before = on_host(box_a, "sha256sum /etc/dtma/dtma.env").stdout
        result = deploy([box_a], contexts["v1"], env_file)
    finally:
        on_host(box_a, f"rm -f {shim}")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "linux/arm64" in last and "nothing was changed" in last, last
    assert "build failed" in last or "preflight failed" in last
    assert on_host(box_a, "sha256sum /etc/dtma/dtma.env").stdout == before
    assert public_version(box_a) == version_of(contexts["v3"])


def test_rollback_brings_the_previous_release_back(box_a, contexts, env_file):
    result = fab([box_a], "rollback", "--env-file", str(env_file), "--verify-url", box_a.agent_url)
    assert result.returncode == 0, result.stderr
    assert f"verify     ok: {box_a.agent_url} version {version_of(contexts['v2'])}" in result.stdout
    assert public_version(box_a) == version_of(contexts["v2"])
    status = fab([box_a], "status", "--verify-url", box_a.agent_url)
    assert status.returncode == 0 and version_of(contexts["v2"]) in status.stdout


def test_two_hosts_then_a_broken_second_host(box_a, box_b, contexts, env_file):
    both = deploy([box_a, box_b], contexts["v2"], env_file)
    assert both.returncode == 0, both.stdout[-3000:] + both.stderr[-3000:]
    assert public_version(box_a) == public_version(box_b) == version_of(contexts["v2"])
    assert "fleet summary:" in both.stdout

    # The second host's Docker engine stops: the first host (the canary) moves on, the second
    # is refused.
    assert on_host(box_b, "kill $(cat /var/run/docker.pid)").returncode == 0
    time.sleep(1)
    broken = deploy([box_a, box_b], contexts["v1"], env_file)
    assert broken.returncode == 1
    assert public_version(box_a) == version_of(contexts["v1"])
    summary = broken.stdout[broken.stdout.index("fleet summary:") :].splitlines()
    assert summary[1].split()[0] == box_a.host and summary[1].split()[1].startswith("deployed")
    assert summary[2].split()[:3] == [box_b.host, "failed", "(preflight:"]
    assert f"first: {box_b.host}: preflight failed" in broken.stderr
    assert verify_urls([box_a, box_b]).count("=") == 2
