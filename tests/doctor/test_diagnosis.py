"""From facts and the backend's view to the cause and its fix (pure: no host)."""

from __future__ import annotations

import json
from dataclasses import replace

from tasks.doctor.backend_view import BackendView, from_answer
from tasks.doctor.diagnosis import Case, Reference, diagnose
from tasks.doctor.host_facts import AgentContainer, HostFacts
from tasks.doctor.masked import Masker, sha256
from tasks.steps.lock import LockOwner

HOST = "root@203.0.113.7"
HEALTHY = json.dumps(
    {
        "status": "healthy",
        "service": "DTMA",
        "dtma_version": "v1",
        "version": "v1",
        "tool_instances": [],
    }
)
OURS = AgentContainer(
    "dtma", status="running", running=True, version="v1", released=True, listens=(30000,)
)
REFUSED = BackendView("refused", "connection refused", True)


def case(agent: AgentContainer | None = OURS, seen: BackendView | None = None, **facts) -> Case:
    base = HostFacts(docker_version="29.1", disk_free=10**10, agents=(agent,) if agent else ())
    found = replace(base, **facts)
    seen = seen or from_answer(200, HEALTHY, True)
    return Case(
        HOST,
        30000,
        ("dtma", "dtma_manager"),
        "--env-file .env",
        backend=seen,
        facts=found,
        now=1000.0,
    )


def found(c: Case, masker: Masker | None = None) -> list[tuple[str, bool]]:
    return [(f.cause, f.error) for f in diagnose(c, masker or Masker())]


def test_a_healthy_agent_of_ours_has_no_finding():
    assert found(case()) == []


def test_the_engine_down_and_a_full_disk_are_named_first():
    c = case(None, REFUSED, docker_version="", disk_free=10 * 1024 * 1024, disk_total=10**10)
    assert found(c) == [("engine-down", True), ("disk-full", True), ("no-agent", True)]
    fixes = [f.fix for f in diagnose(c, Masker())]
    assert (
        fixes[0] == f"ssh {HOST} systemctl start docker"
        and fixes[2] == f"fab -H {HOST} deploy --env-file .env"
    )


def test_a_lock_is_said_with_the_way_out():
    owner = LockOwner("ops", "laptop", 42, acquired_at=0.0)
    stale = diagnose(case(lock=owner.to_json()), Masker())
    assert [(f.cause, f.error) for f in stale] == [("lock", False)]
    assert stale[0].fix == f"fab -H {HOST} deploy --force-unlock"
    fresh = LockOwner("ops", "laptop", 42, acquired_at=900.0).to_json()
    assert diagnose(case(lock=fresh), Masker())[0].fix == "wait for that deploy to end"


def test_another_token_than_the_operators_is_said():
    agent = replace(OURS, env={"DTMA_BEARER_TOKEN": sha256("theirs")})
    c = case(agent)
    c = replace(c, reference=Reference("env file .env", {"DTMA_BEARER_TOKEN": sha256("mine")}))
    assert found(c) == [("token", False)]


def test_a_misconfigured_or_degraded_agent_is_an_error():
    missing = json.dumps(
        {"status": "misconfigured", "missing": ["AGENTOPIA_API_BASE_URL"], "tool_instances": []}
    )
    assert found(case(seen=from_answer(200, missing, True))) == [("misconfigured", True)]
    degraded = json.dumps({"status": "degraded", "reason": "socket", "tool_instances": []})
    assert found(case(seen=from_answer(200, degraded, True))) == [("degraded", True)]


def test_a_stranger_on_the_port_gets_no_key_and_is_named():
    c = replace(case(seen=from_answer(200, HEALTHY, False)), owned=False)
    assert found(c) == [("port-taken", True)]


def test_a_port_held_outside_docker_without_an_agent():
    assert found(case(None, REFUSED, holders=("node",))) == [("port-taken", True)]


def test_an_unreachable_host_fails_only_when_the_agent_fails_too():
    down = Case(HOST, 30000, ("dtma",), "--env-file .env", backend=REFUSED, ssh_error="timed out")
    assert found(down) == [("unreachable", True)]
    answering = replace(down, backend=from_answer(200, HEALTHY, False))
    assert found(answering) == [("unreachable", False)]


def test_a_stopped_agent_of_ours_is_rolled_back():
    stopped = AgentContainer("dtma", status="exited", exit_code=137, version="v1", released=True)
    [finding] = diagnose(case(stopped, REFUSED), Masker())
    assert finding.cause == "agent-stopped" and finding.fix == f"fab -H {HOST} rollback"


def test_log_lines_in_findings_are_masked():
    token = "tok-0123456789abcdef0123"
    looping = AgentContainer(
        "dtma_manager",
        status="restarting",
        restarting=True,
        restart_count=3,
        log=(f"token={token}",),
    )
    [finding] = diagnose(case(looping, REFUSED), Masker([token]))
    assert finding.cause == "crash-loop" and token not in finding.words and "****" in finding.words
    assert finding.fix == f"fab -H {HOST} deploy --adopt --env-from-host"


def test_a_failure_without_a_known_cause_is_still_an_error():
    odd = BackendView("http-error", "HTTP 502", True, 502)
    assert found(case(seen=odd)) == [("no-answer", True)]
