"""Adopting droplets Agentopia provisioned (a `dtma_manager` we did not create, its tokens only in
its environment, `agentopia_backend` linked to it as `dtma`), end to end on sandbox droplets.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from bench.load import LoadProbe
from tasks import sandbox
from tasks.sandbox.agentopia import BACKEND, MANAGER
from tests.support.agentopia import (
    agentopia_for_tests,
    backend_reaches_agent,
    droplet_docker,
    dtma_manager_facts,
    exec_in_backend,
    mismatched_env,
)
from tests.support.contexts import make_context, version_of
from tests.support.deploy import ENV_TEXT, deploy, fab, inspect, on_host, verify_urls
from tests.support.readiness import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    return make_context(tmp_path_factory.mktemp("adopt") / "v1", "adopted")


def adopt(droplet, context, *extra: str):
    box = droplet.sandbox
    args = ["deploy", "--adopt", "--env-from-host", "--context", str(context)]
    return fab([box], *args, "--verify-url", box.agent_url, *extra)


def no_tokens(result, droplet) -> None:
    for value in droplet.tokens().values():
        assert value not in result.stdout and value not in result.stderr


def keyed_status(droplet) -> requests.Response:
    key = droplet.tokens()["BACKEND_TO_DTMA_API_KEY"]
    url = f"{droplet.sandbox.agent_url}/status"
    return requests.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def linked_status(droplet) -> dict:
    """The agent's public /status as the linked backend container reads it."""
    return json.loads(backend_reaches_agent(droplet, "http://dtma:30000/status"))


def test_without_adopt_the_deploy_is_refused_naming_what_holds_the_port(
    agentopia_droplet, context, tmp_path
):
    before = dtma_manager_facts(agentopia_droplet)
    env = tmp_path / "other.env"
    env.write_text(ENV_TEXT)
    refused = deploy([agentopia_droplet.sandbox], context, env)
    assert refused.returncode != 0
    last = refused.stderr.strip().splitlines()[-1]
    assert "preflight failed" in last and MANAGER in last and "--adopt" in last
    other_token = deploy([agentopia_droplet.sandbox], context, env, "--adopt")
    assert other_token.returncode != 0 and "DTMA_BEARER_TOKEN" in other_token.stderr
    assert "--replace-token" in other_token.stderr
    assert dtma_manager_facts(agentopia_droplet) == before
    assert inspect(agentopia_droplet.sandbox, "dtma") is None
    assert on_host(agentopia_droplet.sandbox, "test -e /etc/dtma/dtma.env").returncode != 0


def test_an_engine_no_systemd_unit_runs_is_never_restarted(agentopia_droplet, context):
    """Relinking restarts the engine; without systemd's docker unit nothing would bring it
    back, so the adoption is refused before anything changes."""
    before = dtma_manager_facts(agentopia_droplet)
    name = agentopia_droplet.sandbox.name
    shim = "/usr/local/bin/systemctl"
    subprocess.run(["docker", "exec", name, "mv", shim, f"{shim}.off"], check=True)
    try:
        refused = adopt(agentopia_droplet, context)
    finally:
        subprocess.run(["docker", "exec", name, "mv", f"{shim}.off", shim], check=True)
    assert refused.returncode != 0
    last = refused.stderr.strip().splitlines()[-1]
    assert "preflight failed" in last and "no systemd `docker` unit" in last, last
    assert "nothing was changed" in last and BACKEND in last
    assert dtma_manager_facts(agentopia_droplet) == before
    assert inspect(agentopia_droplet.sandbox, "dtma") is None


def test_adopt_with_the_hosts_own_tokens(agentopia_droplet, context):
    box = agentopia_droplet.sandbox
    with (
        LinkedLoad(agentopia_droplet) as linked,
        LoadProbe(box.agent_url, threads=2, rate=30) as load,
    ):
        result = adopt(agentopia_droplet, context)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"\nadoption, public port: {load.result.summary()}")
    print(f"adoption, linked path: {linked.counts[0]} requests, {linked.counts[1]} failed")
    assert linked.counts[0] > 20  # the linked path was asked throughout
    no_tokens(result, agentopia_droplet)
    assert f"adopting {MANAGER}: image" in result.stdout and "agentopia_backend" in result.stdout
    full = keyed_status(agentopia_droplet).json()
    assert (full["version"], full["status"]) == (version_of(context), "healthy")  # Docker answers
    stat = on_host(box, "stat -c '%a %U' /etc/dtma/dtma.env").stdout.split()
    assert stat == ["600", "root"]
    env = dict(line.split("=", 1) for line in on_host(box, "cat /etc/dtma/dtma.env").stdout.split())
    assert mismatched_env(env, agentopia_droplet.tokens()) == []
    assert linked_status(agentopia_droplet)["version"] == version_of(context)
    assert inspect(box, "dtma-previous")["Config"]["Image"] == agentopia_droplet.old_image


def test_the_linked_backend_reaches_the_new_agent_after_a_reboot(agentopia_droplet, context):
    sandbox.reboot(agentopia_droplet.name)
    wait_until(
        lambda: linked_status(agentopia_droplet)["version"] == version_of(context),
        "the linked backend reaching the new agent after the reboot",
    )
    assert keyed_status(agentopia_droplet).status_code == 200


def test_rollback_gives_dtma_manager_back_as_it_was(agentopia_droplet):
    box = agentopia_droplet.sandbox
    result = fab([box], "rollback", "--env-from-host", "--verify-url", box.agent_url)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    facts = dtma_manager_facts(agentopia_droplet)
    assert (facts.image, facts.restart_policy) == (agentopia_droplet.old_image, "always")
    assert facts.state == "running"
    assert linked_status(agentopia_droplet)["version"] == "agentopia-old"
    assert requests.get(f"{box.agent_url}/status", timeout=10).json()["version"] == "agentopia-old"


def test_a_droplet_given_back_can_be_adopted_again(agentopia_droplet, context):
    result = adopt(agentopia_droplet, context)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert linked_status(agentopia_droplet)["version"] == version_of(context)


class LinkedLoad:
    """The linked backend asks http://dtma:30000/health in a loop, from inside its container,
    until stopped; `counts` is (requests, failed). Detached, writing to a file: it outlives an
    engine restart, which a `docker exec` session does not."""

    LOOP = (
        "n=0; f=0; while [ ! -e /tmp/stop-load ]; do n=$((n+1)); "
        "timeout 5 wget -qO- http://dtma:30000/health >/dev/null 2>&1 || f=$((f+1)); "
        "echo $n $f >/tmp/load-counts; sleep 0.05; done; "
        "rm -f /tmp/stop-load; echo done >>/tmp/load-counts"
    )

    def __init__(self, droplet) -> None:
        self.droplet = droplet

    def __enter__(self) -> LinkedLoad:
        exec_in_backend(self.droplet, ["rm", "-f", "/tmp/stop-load", "/tmp/load-counts"])
        started = droplet_docker(self.droplet, ["exec", "-d", BACKEND, "sh", "-c", self.LOOP])
        assert started.returncode == 0, started.stderr
        return self

    def __exit__(self, *exc: object) -> None:
        exec_in_backend(self.droplet, ["touch", "/tmp/stop-load"])

        def counted() -> str | None:
            out = exec_in_backend(self.droplet, ["cat", "/tmp/load-counts"]).stdout
            return out if "done" in out else None

        finished = wait_until(counted, "the linked load loop's end")
        self.counts = [int(word) for word in finished.split()[:2]]


def test_a_later_release_keeps_the_linked_backend_served(agentopia_droplet, tmp_path):
    newer = make_context(tmp_path / "v2", "adopted, then released again")
    with LinkedLoad(agentopia_droplet) as linked:
        result = adopt(agentopia_droplet, newer)  # --adopt changes nothing once adopted
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    requests_made, failed = linked.counts
    print(f"\nlater release, linked path: {requests_made} requests, {failed} failed")
    assert requests_made > 20 and failed == 0
    assert linked_status(agentopia_droplet)["version"] == version_of(newer)


def test_an_old_agent_that_crash_loops_is_adopted_and_given_back(
    agentopia_crashloop_droplet, context
):
    droplet = agentopia_crashloop_droplet
    result = adopt(droplet, context)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    no_tokens(result, droplet)
    full = keyed_status(droplet).json()
    assert (full["version"], full["status"]) == (version_of(context), "healthy")
    assert linked_status(droplet)["version"] == version_of(context)
    back = fab([droplet.sandbox], "rollback", "--env-from-host")
    assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-3000:]
    facts = dtma_manager_facts(droplet)
    assert (facts.image, facts.restart_policy) == (droplet.old_image, "always")


@pytest.fixture(scope="module")
def two_agentopia_droplets():
    made = [agentopia_for_tests("dtma-adopt-fleet"), agentopia_for_tests("dtma-adopt-fleet")]
    try:
        yield [next(each) for each in made]
    finally:
        for each in made:
            each.close()  # runs the generator's cleanup: sandbox.down


def test_a_fleet_of_agentopia_droplets_is_adopted_in_one_run(two_agentopia_droplets, context):
    boxes = [droplet.sandbox for droplet in two_agentopia_droplets]
    args = ["deploy", "--adopt", "--env-from-host", "--context", str(context), "--parallel", "2"]
    result = fab(boxes, *args, "--canary", "0", "--verify-url", verify_urls(boxes))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for droplet in two_agentopia_droplets:
        no_tokens(result, droplet)
        assert keyed_status(droplet).json()["version"] == version_of(context)
        assert linked_status(droplet)["version"] == version_of(context)
