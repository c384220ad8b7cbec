"""The smoke suite against builds that failed in the field: it must fail, naming the cause."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.smoke.broken_agents import BrokenAgent
from tests.smoke.conftest import KEY, REPO, SmokeRun, free_port

RunSmoke = Callable[..., SmokeRun]


def smoke_against(run_smoke: RunSmoke, flaw: str, *args: str) -> SmokeRun:
    with BrokenAgent(flaw, key=KEY) as agent:
        return run_smoke("--host", "127.0.0.1", "--port", str(agent.port), "--api-key", KEY, *args)


def assert_broken(run: SmokeRun, promise: str, *causes: str) -> None:
    assert run.returncode == 1, run.output
    assert run.line_of(promise).split()[0] == "broken", run.output
    for cause in causes:
        assert cause in run.output, f"{cause!r} not in:\n{run.output}"
    assert KEY not in run.output


def test_the_good_agent_keeps_every_default_promise(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "good")
    assert run.returncode == 0, run.output
    for promise in ("health", "status-contract", "auth", "refresh"):
        assert run.line_of(promise).split()[0] == "kept", run.output


def test_agent_listening_on_another_port_is_connection_refused(run_smoke: RunSmoke) -> None:
    with BrokenAgent("good", key=KEY):  # up, but on its own port: 3030 instead of 30000
        run = run_smoke("--host", f"127.0.0.1:{free_port()}", "--api-key", KEY)
    assert_broken(run, "health", "connection refused", "nothing is listening", "wrong port")


def test_crash_looping_agent_is_connection_refused(run_smoke: RunSmoke) -> None:
    port = free_port()
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.smoke.broken_agents", "crash"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert crashed.returncode == 1 and "config.json" in crashed.stderr
    run = run_smoke("--host", "127.0.0.1", "--port", str(port), "--api-key", KEY)
    assert_broken(run, "health", "connection refused", "crash-looping")
    assert_broken(run, "refresh", 'the frontend would show HTTP 500 {"error": "Failed to refresh')


def test_agent_that_accepts_any_token_fails(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "any_token")
    assert_broken(run, "auth", "accepted credentials it must refuse", "accepts any token")
    assert re.search(r"FAILED \S*test_auth.py::test_wrong_bearer_is_403\[/status\]", run.output)


@pytest.mark.parametrize(
    ("flaw", "kind"),
    [("length_only", "same length, one character changed"), ("prefix_token", "a prefix")],
)
def test_agent_with_a_broken_token_compare_fails(run_smoke: RunSmoke, flaw: str, kind: str) -> None:
    run = smoke_against(run_smoke, flaw)
    assert_broken(run, "auth", f"accepted a near-miss of --api-key ({kind}", "check is broken")
    assert_no_part_of(KEY, run.output)


def assert_no_part_of(token: str, text: str, part: int = 8) -> None:
    parts = {token[i : i + part] for i in range(len(token) - part + 1)}
    shown = sorted(p for p in parts if p in text)
    assert not shown, f"parts of the token in the output: {shown}"


def test_an_echo_cut_short_leaks_no_part_of_the_key(run_smoke: RunSmoke, tmp_path) -> None:
    report = tmp_path / "smoke.xml"
    run = smoke_against(run_smoke, "echo_token_late", f"--junitxml={report}", "-vv")
    assert run.returncode == 1, run.output
    assert "while handling 'Bearer ***" in run.output  # the cut falls inside the key
    assert_no_part_of(KEY, run.output)
    assert_no_part_of(KEY, report.read_text())


def test_agent_checking_another_token_than_the_backend_sends_fails(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "other_token")
    assert_broken(run, "auth", "rejected the backend key with HTTP 403", "different token")
    assert_broken(run, "refresh", "DTMA status check failed with HTTP 403")


def test_agent_answering_500_on_status_fails(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "status_500")
    assert_broken(run, "health", "the agent is failing: GET /status -> HTTP 500")
    assert_broken(run, "refresh", "DTMA status check failed with HTTP 500")


def test_status_without_account_tool_instance_ids_fails(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "no_instance_ids")
    assert_broken(
        run,
        "status-contract",
        "- tool_instances[0].account_tool_instance_id: missing",
        "silently ignores items without it",
    )


def test_docker_state_words_fail_the_contract(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "docker_words")
    assert_broken(
        run,
        "status-contract",
        "~ tool_instances[0].status: expected one of running, stopped, pending, starting, "
        'stopping, error, got "exited"',
        "the backend's status mapper turns any word",
    )


def test_a_tool_list_hidden_without_credentials_fails(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "private_tool_list")
    assert_broken(
        run,
        "status-contract",
        "GET /status (without credentials) departs from what the backend's tool list reads",
        "- tool_instances: missing",
    )


def test_misconfigured_agent_fails_with_its_reason(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "misconfigured")
    assert_broken(
        run,
        "status-contract",
        "/status says 'misconfigured', not 'healthy'",
        "BACKEND_TO_DTMA_API_KEY",
    )


def test_another_service_on_the_port_is_a_wrong_content_type(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "text_health")
    assert_broken(run, "health", "wrong content type 'text/html'")


@pytest.mark.timeout(60)
def test_agent_that_never_answers_is_a_timeout_paid_once(run_smoke: RunSmoke) -> None:
    run = smoke_against(run_smoke, "hang", "--timeout", "0.5")
    assert_broken(run, "health", "timeout:", "got no answer within 0.5 s", "firewall")
    assert "not asked again" in run.output


def test_tool_lifecycle_cleans_up_when_a_step_fails(run_smoke: RunSmoke) -> None:
    with BrokenAgent("stop_500", key=KEY) as agent:
        run = run_smoke(
            "--host",
            f"127.0.0.1:{agent.port}",
            "--api-key",
            KEY,
            "--destructive",
            "--tool-image",
            "any:image",
            "-k",
            "lifecycle",
        )
        left = dict(agent.tools)
    assert_broken(run, "tool-lifecycle", "step 'stop' failed: POST /tools/smoke%20tool%20")
    assert left == {}, "the suite left its tool container behind"


def test_the_good_agent_keeps_the_tool_lifecycle_promise(run_smoke: RunSmoke) -> None:
    with BrokenAgent("good", key=KEY) as agent:
        args = ("--destructive", "--tool-image", "any:image", "-k", "lifecycle")
        run = run_smoke("--host", f"127.0.0.1:{agent.port}", "--api-key", KEY, *args)
        left = dict(agent.tools)
    assert run.returncode == 0, run.output
    assert run.line_of("tool-lifecycle").split()[0] == "kept"
    assert left == {}
