"""Fault 4: Ctrl-C on `fab deploy` at each step boundary. The lock is released, and the host
ends with a working agent (old or new), or says how to get one back.

`fab deploy` prints `HOST: STEP` as each step starts; the tests wait for that line, then for
the host to be in the state they aim at, and only then send SIGINT.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.support import lock_is_free, record, seconds_until_healthy, start_fab
from tests.support.contexts import version_of
from tests.support.deploy import inspect, public_version, verify_urls, version_answering
from tests.support.readiness import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

STAGE_DIR = "/var/tmp/dtma-deploy"


def start_deploy(host, context, *extra: str):
    args = ["deploy", "--context", str(context), "--env-file", str(host.env_file)]
    return start_fab(host.box, *args, "--verify-url", verify_urls([host.box]), *extra)


def wait_on_host(host, command: str, wanted: str, timeout: float = 120.0) -> None:
    check = lambda: host.sh(command).stdout.strip() == wanted  # noqa: E731
    wait_until(check, f"{command!r} giving {wanted!r}", deadline=timeout, poll=0.1)


def interrupted(host, run, sent: float):
    done = run.finish(timeout=60)
    host.outputs += [done.stdout, done.stderr]
    seconds = time.monotonic() - sent
    assert done.returncode != 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert lock_is_free(host.box), "the deploy lock outlived the interrupted deploy"
    return done, seconds


def has_image(host, ref: str) -> bool:
    return host.sh(f"docker image inspect {ref}").returncode == 0


def assert_agent_untouched(host, before: dict, version: str) -> None:
    """The same container, never restarted, still answering with the same version."""
    after = inspect(host.box, "dtma")
    assert (after["Id"], after["State"]["StartedAt"]) == (
        before["Id"],
        before["State"]["StartedAt"],
    )
    assert public_version(host.box) == version


def test_ctrl_c_during_ship_leaves_the_running_agent(host, contexts):
    before, version = inspect(host.box, "dtma"), public_version(host.box)
    run = start_deploy(host, contexts["v3"], "--full")  # the whole image: a long ship
    run.wait_for_line(f"{host.box.host}: ship")
    time.sleep(1.0)
    done, seconds = interrupted(host, run, run.interrupt())
    assert f"deploy {host.box.host}: " in done.stdout  # the report is still printed and written
    assert_agent_untouched(host, before, version)
    assert not has_image(host, f"dtma:{version_of(contexts['v3'])}")  # nothing half-loaded
    host.smoke()
    record("Ctrl-C during ship", exit_seconds=round(seconds, 2))


def test_ctrl_c_right_after_the_candidate_starts(host, contexts):
    before, version = inspect(host.box, "dtma"), public_version(host.box)
    run = start_deploy(host, contexts["v4"])
    run.wait_for_line(f"{host.box.host}: candidate")
    wait_on_host(host, "docker inspect -f '{{.State.Running}}' dtma-candidate", "true")
    done, seconds = interrupted(host, run, run.interrupt())
    assert f"deploy {host.box.host}: " in done.stdout  # the report is still printed and written
    assert_agent_untouched(host, before, version)
    # The ship before the candidate finished: the staged files of the earlier cut ship are gone.
    assert host.sh(f"ls -A {STAGE_DIR}").stdout.strip() == ""
    assert inspect(host.box, "dtma-candidate") is None  # removed on the way out
    host.smoke()
    record("Ctrl-C right after the candidate starts", exit_seconds=round(seconds, 2))


def test_ctrl_c_while_the_old_agent_stops(host, contexts):
    """Ctrl-C while the old agent stops (one that ignores SIGTERM: its stop takes the full
    10 s). The new agent already serves by then; the stop and the renames are one remote
    command that runs to its end, so the host is left with the new agent, verified or not,
    and `fab status` says which."""
    slow = host.deploy(contexts["slow-stop"])
    assert slow.returncode == 0, slow.stdout[-3000:] + slow.stderr[-3000:]
    new = version_of(contexts["v5"])
    run = start_deploy(host, contexts["v5"])
    run.wait_for_line(f"{host.box.host}: release")
    wait_until(lambda: version_answering(host.box) == new, "the new agent on the public port")
    sent = run.interrupt()  # the old agent is now being stopped
    done, seconds = interrupted(host, run, sent)
    recovery = seconds_until_healthy(host.box.agent_url, sent, limit=30)
    assert public_version(host.box) == new
    assert inspect(host.box, "dtma-candidate") is None
    assert not inspect(host.box, "dtma-previous")["State"]["Running"]
    status = host.fab("status", "--verify-url", host.box.agent_url)
    assert status.returncode == 0, status.stderr
    assert f"version {new}" in status.stdout and "(running, " in status.stdout
    assert "failed during release" in done.stdout  # the report names where it stopped
    host.smoke()
    print(f"\nCtrl-C while the old agent stops: {new} answers {recovery:.1f} s after the signal")
    record(
        "Ctrl-C while the old agent stops",
        recovery_seconds=recovery,
        exit_seconds=round(seconds, 2),
        agent_after="new (unverified)",
    )


def test_host_left_between_stop_and_start_is_restored_by_rollback(host):
    """A link lost in the middle of the cutover (old agent stopped and set aside, new one created
    but never started): `fab status` says no agent runs, and `fab rollback` brings the old
    release back."""
    before = inspect(host.box, "dtma")
    version = public_version(host.box)
    cut = host.sh(
        "docker rm -f dtma-previous >/dev/null 2>&1; docker rename dtma dtma-previous"
        f" && docker stop dtma-previous && docker create --name dtma {before['Config']['Image']}"
    )
    assert cut.returncode == 0, cut.stderr
    status = host.fab("status", "--verify-url", host.box.agent_url)
    assert "(created, " in status.stdout, status.stdout + status.stderr
    sent = time.monotonic()
    back = host.fab(
        "rollback", "--env-file", str(host.env_file), "--verify-url", host.box.agent_url
    )
    assert f"version {version}" in back.stdout, back.stdout
    assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-3000:]
    recovery = seconds_until_healthy(host.box.agent_url, sent, limit=60)
    assert public_version(host.box) == version
    # The old agent's release again: its image and labels, run with the host's env file now
    # (a rollback never brings back the environment of a container that predates a rotation).
    after = inspect(host.box, "dtma")
    assert after["Image"] == before["Image"] and after["State"]["Running"]
    # Its labels, but deployed now: of two releases that would both serve after a reboot, the
    # agent keeps the newer.
    labels = {**before["Config"]["Labels"], "dtma.deployed_at": ""}
    assert {**after["Config"]["Labels"], "dtma.deployed_at": ""} == labels
    assert after["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    host.smoke()
    record("link lost between stop and start, then fab rollback", recovery_seconds=recovery)
