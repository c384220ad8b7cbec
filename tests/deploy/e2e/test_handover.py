"""Releases without a gap, end to end: fresh-connection load on a sandbox droplet's public port
through every kind of release, a reboot after one, and a Ctrl-C in the middle of a switch.

Zero is the only acceptable count of failed requests: the backend calls once, without retry.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from bench.load import LoadProbe, LoadResult
from tasks import sandbox
from tests.support.contexts import make_context, version_of
from tests.support.deploy import (
    KEY,
    deploy,
    fab,
    fab_argv,
    inspect,
    on_host,
    takes_ctrl_c,
    version_answering,
)
from tests.support.deploy import public_version as version_now
from tests.support.readiness import wait_until
from tests.support.sandboxes import sandbox_for_tests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    base = tmp_path_factory.mktemp("contexts")
    return {
        "v1": make_context(base / "v1", "handover one"),
        "v2": make_context(base / "v2", "handover two"),
        "v3": make_context(base / "v3", "handover three"),
        "crash": make_context(base / "crash", "handover crash", '\nCMD ["sh", "-c", "exit 1"]\n'),
    }


@pytest.fixture(scope="module")
def box(contexts, env_file):
    for made in sandbox_for_tests("dtma-handover"):
        first = deploy([made], contexts["v1"], env_file)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        yield made


def under_load(box: sandbox.Sandbox, *fab_args: str, contexts=None, env_file=None):
    """Run one fab command while fresh-connection load hits the public port."""
    with LoadProbe(box.agent_url, key=KEY, threads=4, rate=60) as load:
        if contexts is None:
            result = fab([box], *fab_args, "--verify-url", box.agent_url)
        else:
            result = deploy([box], contexts, env_file, *fab_args)
    print(f"\n{' '.join(fab_args) or 'deploy'}: {load.result.summary()}")
    return result, load.result


def no_failures(load: LoadResult) -> None:
    assert load.requests > 50, load.summary()
    assert load.failures == [], load.summary()
    assert load.slow_ok > 0, "no half-sent request was answered: nothing was in flight"


def agents_serving(box: sandbox.Sandbox) -> list[str]:
    """Running containers of ours that would serve after a reboot (restart policy set)."""
    out = on_host(
        box,
        "docker ps --filter label=dtma.version --format '{{.Names}}' | "
        "xargs -r docker inspect --format '{{.Name}} {{.HostConfig.RestartPolicy.Name}}'",
    ).stdout
    return [line.split()[0].lstrip("/") for line in out.splitlines() if line.split()[1] != "no"]


def listeners(box: sandbox.Sandbox, port: int = 30000) -> int:
    return len(on_host(box, f"ss -Hltn 'sport = :{port}'").stdout.splitlines())


def test_code_change_deploy_under_load_fails_no_request(box, contexts, env_file):
    result, load = under_load(box, contexts=contexts["v2"], env_file=env_file)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    no_failures(load)
    assert version_now(box) == version_of(contexts["v2"])
    assert agents_serving(box) == ["dtma"]
    assert inspect(box, "dtma-previous")["HostConfig"]["RestartPolicy"]["Name"] == "no"


def test_the_candidate_that_passed_is_the_one_that_serves(box, contexts, env_file):
    since = on_host(box, "date +%s").stdout.strip()
    result = deploy([box], contexts["v3"], env_file)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    created = on_host(
        box,
        f"docker events --since {since} --until $(date +%s) --filter event=create "
        "--format '{{.Actor.Attributes.name}}'",
    ).stdout.split()
    assert created == ["dtma-candidate"]  # one container of the new image, started once
    state = inspect(box, "dtma")
    assert state["HostConfig"]["NetworkMode"] == "host"
    assert state["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert state["Config"]["Labels"]["dtma.version"] == version_of(contexts["v3"])


def test_restart_anyway_under_load_fails_no_request(box, contexts, env_file):
    before = inspect(box, "dtma")["Id"]
    result, load = under_load(box, "--restart-anyway", contexts=contexts["v3"], env_file=env_file)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    no_failures(load)
    assert inspect(box, "dtma")["Id"] != before


def test_rollback_under_load_fails_no_request(box, contexts, env_file):
    result, load = under_load(box, "rollback", "--env-file", str(env_file))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    no_failures(load)
    assert inspect(box, "dtma")["HostConfig"]["NetworkMode"] == "host"
    assert version_now(box) == version_of(contexts["v3"])  # the previous of a forced restart


def test_a_refused_candidate_under_load_serves_nothing(box, contexts, env_file):
    before = version_now(box)
    result, load = under_load(
        box, "--verify-timeout", "20", contexts=contexts["crash"], env_file=env_file
    )
    assert result.returncode != 0 and "candidate failed" in result.stderr
    no_failures(load)
    assert version_now(box) == before
    assert inspect(box, "dtma-candidate") is None


def test_reboot_after_a_release_brings_back_one_agent_the_new_one(box, contexts, env_file):
    result = deploy([box], contexts["v2"], env_file)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sandbox.reboot(box.name)
    new = version_of(contexts["v2"])
    wait_until(lambda: version_answering(box) == new, "the agent after reboot")
    assert agents_serving(box) == ["dtma"]
    assert listeners(box) == 1


def test_ctrl_c_in_the_middle_of_a_switch_leaves_one_working_agent(box, contexts, env_file):
    start = deploy([box], contexts["v2"], env_file)  # v2 serves, so v1 is a real switch
    assert start.returncode == 0, start.stdout[-3000:] + start.stderr[-3000:]
    args = ["deploy", "--context", str(contexts["v1"]), "--env-file", str(env_file)]
    proc = subprocess.Popen(
        fab_argv([box], *args, "--verify-url", box.agent_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=takes_ctrl_c,
    )
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.strip() == f"{box.host}: release":
                proc.send_signal(signal.SIGINT)
                break
        seen.append(proc.communicate(timeout=300)[0])
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(seen)
    assert proc.returncode != 0, output
    assert len(agents_serving(box)) == 1
    assert listeners(box) == 1
    assert version_now(box) in (version_of(contexts["v1"]), version_of(contexts["v2"]))
    assert inspect(box, "dtma-candidate") is None, output
    assert on_host(box, "test -e /var/lib/dtma-deploy/lock").returncode != 0
