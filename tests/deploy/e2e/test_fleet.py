"""`fab deploy` over a fleet of four sandbox droplets: a canary, then the rest in parallel; a
late failure rolls every host back, or stops the line; an unreachable host fails fast; Ctrl-C
during a wave leaves every host with one working agent and no lock.

The tests run in order and share the droplets: each leaves them in a known state.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from tasks import sandbox
from tests.faults.support import FabRun
from tests.support.contexts import ROOT, make_context, version_of
from tests.support.deploy import FAB, inspect, on_host, public_version, verify_urls
from tests.support.readiness import wait_until, wait_until_healthy
from tests.support.sandboxes import sandbox_for_tests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]
LOCK_DIR = "/var/lib/dtma-deploy/lock"


@pytest.fixture(scope="module")
def boxes():
    """Four droplets; all removed at the end, whatever happened (one at a time: they record
    their host keys in one known_hosts file)."""
    generators = [sandbox_for_tests(f"fleet-{i}") for i in range(4)]
    try:
        yield [next(generator) for generator in generators]
    finally:
        for generator in generators:
            generator.close()  # runs each one's finalizer: sandbox.down


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    base = tmp_path_factory.mktemp("fleet-contexts")
    return {
        name: make_context(base / name, f"fleet-{name}") for name in ("v1", "v2", "v3", "v4", "v5")
    }


def fleet_argv(boxes, context: Path, env_file: Path, *extra: str, hosts=None) -> list[str]:
    keys = [arg for box in boxes for arg in ("-i", str(box.key_path))]
    chosen = ["-H", ",".join(b.host for b in boxes)] if hosts is None else []
    args = ["deploy", "--context", str(context), "--env-file", str(env_file)]
    return [str(FAB), *chosen, *keys, *args, "--verify-url", verify_urls(boxes), *extra]


def fleet(boxes, context, env_file, *extra, hosts=None):
    run = FabRun(fleet_argv(boxes, context, env_file, *extra, hosts=hosts))
    return run.finish(timeout=900)


def latest_fleet_report() -> dict:
    newest = max((ROOT / "reports").glob("fleet-*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(newest.read_text())


def summary_of(stdout: str) -> dict[str, str]:
    """host -> its summary line (what follows the host name)."""
    lines = stdout[stdout.index("fleet summary:") :].splitlines()[1:]
    rows = [line.split(None, 1) for line in lines if line.startswith("  ")]
    return {host: rest for host, rest in rows}


def started_at(box) -> tuple[str, str]:
    state = inspect(box, "dtma")
    return state["Id"], state["State"]["StartedAt"]


def one_working_agent_no_lock(box) -> None:
    assert requests.get(f"{box.agent_url}/health", timeout=5).status_code == 200
    names = on_host(box, "docker ps --format '{{.Names}}'").stdout.split()
    assert "dtma" in names and "dtma-candidate" not in names, names
    assert on_host(box, f"test -e {LOCK_DIR}").returncode != 0, f"{box.host} still locked"


def image_tags(box) -> str:
    listed = on_host(box, "docker image ls --format '{{.Repository}}:{{.Tag}}'")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout


def stop_engine(box) -> None:
    assert on_host(box, "kill $(cat /var/run/docker.pid)").returncode == 0
    wait_until(lambda: on_host(box, "docker info").returncode != 0, "the engine to stop")


def test_canary_then_three_in_parallel_from_a_hosts_file_smoke_gated(
    boxes, contexts, env_file, tmp_path
):
    first = fleet(boxes, contexts["v1"], env_file, "--canary", "1", "--parallel", "3")
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-3000:]
    hosts_file = tmp_path / "hosts"
    listed = "".join(f"{box.host}   # droplet {i}\n" for i, box in enumerate(boxes))
    hosts_file.write_text("# the toolboxes\n\n" + listed)
    extra = ("--hosts-file", str(hosts_file), "--canary", "1", "--parallel", "3", "--smoke")
    done = fleet(boxes, contexts["v2"], env_file, *extra, hosts=[])
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert {public_version(box) for box in boxes} == {version_of(contexts["v2"])}
    out = done.stdout
    assert f"fleet: 4 host(s) from hosts file {hosts_file}: " in out
    assert "fleet: the other 3 host(s) receive and load it while the canary runs" in out
    for box in boxes:
        assert f"{box.host}: candidate" in out and f"{box.host}: smoke" in out
        assert summary_of(out)[box.host].startswith("deployed")
    canary_passed = out.index(f"{boxes[0].host}: smoke")  # the gate opens once it passed
    for box in boxes[1:]:  # received during the canary: their own deploys send nothing
        ahead = out.index(f"{box.host}: ahead of its turn, shipped dtma:")
        assert ahead < out.index(f"{box.host}: preflight")
        waited = out.index(f"{box.host}: ready; waiting for the canaries to pass")
        assert out.index(f"{box.host}: candidate") < waited < out.index(f"{box.host}: release")
        assert canary_passed < out.index(f"{box.host}: release")
    assert "fleet: 4 done, 0 failed, 0 in flight, 0 not started" in out
    report = latest_fleet_report()
    assert report["outcome"] == "deployed" and len(report["hosts"]) == 4
    assert report["shape"]["canary"] == 1 and report["shape"]["parallel"] == 3
    assert all(h["report"]["bytes_sent"] < 100_000 for h in report["hosts"])
    assert [h["report"]["bytes_sent"] for h in report["hosts"][1:]] == [0, 0, 0]
    assert all("gate" in h["report"]["phases"] for h in report["hosts"][1:])
    print(f"\nfleet of 4, code change, canary 1 + parallel 3: {report['total_seconds']} s")


def test_late_failure_rolls_every_switched_host_back(boxes, contexts, env_file):
    before = version_of(contexts["v2"])
    stop_engine(boxes[3])  # the last host fails after the canary and two others switched
    extra = ("--canary", "1", "--parallel", "2", "--on-failure", "rollback-all")
    done = fleet(boxes, contexts["v3"], env_file, *extra)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-3000:]
    rows = summary_of(done.stdout)
    assert rows[boxes[3].host].startswith("failed (preflight: ")
    for box in boxes[:3]:
        assert rows[box.host].startswith("rolled back; rolled back to dtma:"), rows[box.host]
        assert public_version(box) == before
        one_working_agent_no_lock(box)
    assert "error: fleet: 1 of 4 host(s) failed; first: " in done.stderr
    report = latest_fleet_report()
    print(f"\nrollback-all of 3 hosts after a late failure: {report['rollback_seconds']} s")


def test_stop_leaves_the_hosts_not_started_untouched(boxes, contexts, env_file):
    """The broken host second in line: the canary moves on, the two after it are untouched
    (a release none of them held yet: what they received during the canary goes again)."""
    order = [boxes[0], boxes[3], boxes[1], boxes[2]]
    untouched = {box.host: started_at(box) for box in order[2:]}
    done = fleet(order, contexts["v5"], env_file)  # --canary 1 --parallel 1 --on-failure stop
    assert done.returncode == 1
    rows = summary_of(done.stdout)
    assert rows[boxes[0].host].startswith("deployed")
    assert public_version(boxes[0]) == version_of(contexts["v5"])
    assert rows[boxes[3].host].startswith("failed (preflight: ")
    assert f"{boxes[1].host}: ahead of its turn, shipped dtma:" in done.stdout
    for box in order[2:]:  # the image they received during the canary is gone again
        assert rows[box.host] == "not started"
        assert started_at(box) == untouched[box.host]
        assert public_version(box) == version_of(contexts["v2"])
        assert f"dtma:{version_of(contexts['v5'])}" not in image_tags(box)
    sandbox.reboot(boxes[3].name)  # its engine back, and with it its agent
    wait_until_healthy(boxes[3].agent_url)
    assert public_version(boxes[3]) == version_of(contexts["v2"])


def test_a_failed_canary_leaves_the_hosts_at_the_gate_as_they_were(boxes, contexts, env_file):
    """The hosts after the canary reach the gate with a checked candidate; the canary fails:
    their candidates go, and so does the image they received; their agents were not touched."""
    order, before = [boxes[3], boxes[1], boxes[2]], version_of(contexts["v2"])
    untouched = {box.host: started_at(box) for box in order[1:]}
    stop_engine(boxes[3])
    done = fleet(order, contexts["v5"], env_file, "--canary", "1", "--parallel", "2")
    assert done.returncode == 1
    rows = summary_of(done.stdout)
    assert rows[boxes[3].host].startswith("failed (preflight: ")
    for box in order[1:]:
        assert f"{box.host}: ready; waiting for the canaries to pass" in done.stdout
        assert (
            rows[box.host]
            == "not started; the rollout stopped before its turn: its candidate removed"
        )
        assert started_at(box) == untouched[box.host]
        assert public_version(box) == before
        one_working_agent_no_lock(box)
        assert f"dtma:{version_of(contexts['v5'])}" not in image_tags(box)
    assert "fleet: 0 done, 1 failed, 0 in flight, 2 not started" in done.stdout
    sandbox.reboot(boxes[3].name)
    wait_until_healthy(boxes[3].agent_url)


@pytest.fixture
def silent_host():
    """A loopback port that accepts TCP and never says a word (a hung sshd, a black hole)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"root@127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        server.close()


def test_an_unreachable_host_fails_within_15_seconds(boxes, contexts, env_file, silent_host):
    argv = fleet_argv(boxes[:1], contexts["v5"], env_file, "--canary", "0", "--parallel", "2")
    argv[argv.index("-H") + 1] += f",{silent_host}"
    done = FabRun(argv).finish(timeout=300)
    assert done.returncode == 1
    record = next(h for h in latest_fleet_report()["hosts"] if h["host"] == silent_host)
    assert record["state"] == "failed" and record["step"] == "preflight", record
    assert record["seconds"] <= 15, record  # the bound; the timeout is 10 s
    assert summary_of(done.stdout)[boxes[0].host].startswith("up to date")
    print(f"\nunreachable host failed after {record['seconds']} s: {record['cause']}")


def test_ctrl_c_during_a_parallel_wave(boxes, contexts, env_file):
    run = FabRun(fleet_argv(boxes, contexts["v4"], env_file, "--canary", "1", "--parallel", "3"))
    run.wait_for_line(f"{boxes[2].host}: candidate")
    sent = run.interrupt()
    done = run.finish(timeout=300)
    print(f"\nCtrl-C during a wave: fab ended {time.monotonic() - sent:.1f} s after the signal")
    assert done.returncode == 130, done.stdout[-4000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "fleet: interrupted" in done.stdout and "fleet summary:" in done.stdout
    for box in boxes:
        one_working_agent_no_lock(box)
