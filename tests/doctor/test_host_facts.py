"""The doctor's facts: its one script parsed into typed values (no host)."""

from __future__ import annotations

import subprocess

from tasks.doctor.host_facts import FACTS, facts_argv, parse_facts

SAMPLE = """\
docker=29.1.2
disk=20000000 51200
lock={"tool": "dtma-deploy", "user": "ops"}
holders=docker-proxy
container=dtma_manager|restarting||
container=ctx7|running||dtma
container=agentopia_backend|running||
agent:dtma_manager:ports=30000
agent:dtma_manager:state=restarting|false|true|1|7|0|old/dtma:1|default|
agent:dtma_manager:env=PORT=3030
agent:dtma_manager:env=BACKEND_TO_DTMA_API_KEY=ab12
agent:dtma_manager:listens=0BD6 1F90
agent:dtma_manager:log=Error: cannot read /config/token
agent:dtma_manager:log=  at start (index.js:3)
agent:dtma_manager:heartbeat=
agent:dtma_manager:signature=
"""


def test_the_sample_parses_into_every_fact():
    facts = parse_facts(SAMPLE)
    assert facts.docker_version == "29.1.2"
    assert (facts.disk_total, facts.disk_free) == (20000000 * 1024, 51200 * 1024)
    assert facts.lock.startswith('{"tool"') and facts.holders == ("docker-proxy",)
    assert [(c.name, c.managed) for c in facts.containers][:2] == [
        ("dtma_manager", False),
        ("ctx7", True),
    ]
    agent = facts.agent(("dtma", "dtma_manager"))
    assert agent is not None and agent.name == "dtma_manager" and not agent.ours
    assert agent.restarting and agent.crash_looping and agent.restart_count == 7
    assert agent.published == (30000,) and agent.listens == (3030, 8080)
    assert agent.port_inside(30000) == 3030
    assert agent.env["BACKEND_TO_DTMA_API_KEY"] == "ab12"
    assert agent.log == ("Error: cannot read /config/token", "  at start (index.js:3)")


def test_a_free_lock_and_a_host_without_containers():
    facts = parse_facts("docker=20.10.24\ndisk=100 50\nholders=\n")
    assert facts.lock is None and facts.agents == () and facts.agent(("dtma",)) is None


def test_a_running_agent_of_ours_is_preferred_to_a_stopped_one():
    text = (
        "agent:dtma_manager:state=exited|false|false|0|0|0|old:1|default|\n"
        "agent:dtma:state=running|true|false|0|0|42|dtma:abc|host|abc|2026-12-07T07:00:00Z\n"
    )
    agent = parse_facts(text).agent(("dtma", "dtma_manager"))
    assert agent.name == "dtma" and agent.ours and agent.version == "abc"


def test_our_image_run_by_someone_else_is_not_a_release_of_ours():
    text = "agent:dtma_manager:state=running|true|false|0|0|7|reg/dtma@sha256:1|default|abc|\n"
    agent = parse_facts(text).agent(("dtma", "dtma_manager"))
    assert agent.version == "abc" and not agent.ours


def test_the_script_is_valid_sh_and_takes_its_arguments_in_order():
    assert subprocess.run(["sh", "-n", "-c", FACTS], check=False).returncode == 0
    argv = facts_argv(30000, "/var/lib/dtma-deploy/lock", ("dtma", "dtma_manager"))
    assert argv[:2] == ["sh", "-c"] and argv[3:6] == [
        "dtma-doctor",
        "30000",
        "/var/lib/dtma-deploy/lock",
    ]
    assert argv[-2:] == ["dtma", "dtma_manager"]
