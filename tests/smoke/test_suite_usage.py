"""How the smoke suite behaves for the operator: options, usage errors, secrets, reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from tests.smoke.broken_agents import BrokenAgent
from tests.smoke.conftest import KEY, SmokeRun

RunSmoke = Callable[..., SmokeRun]


def error_lines(run: SmokeRun) -> list[str]:
    return [line for line in run.output.splitlines() if line.strip()]


def test_a_missing_host_is_a_one_line_usage_error(run_smoke: RunSmoke) -> None:
    run = run_smoke("--api-key", KEY)
    assert run.returncode == 4, run.output
    assert error_lines(run) == [
        "ERROR: --host is required: pytest smoke_tests --host <droplet> --env-file .env"
    ]


def test_an_unreadable_env_file_is_a_one_line_usage_error(run_smoke: RunSmoke) -> None:
    run = run_smoke("--host", "127.0.0.1", "--env-file", "/nonexistent/.env")
    assert run.returncode == 4, run.output
    assert error_lines(run) == [
        "ERROR: --env-file /nonexistent/.env: cannot read it (No such file or directory)"
    ]


def test_every_option_can_come_from_the_environment(run_smoke: RunSmoke, tmp_path: Path) -> None:
    env_file = tmp_path / "agent.env"
    env_file.write_text(f"DTMA_BEARER_TOKEN=other\nBACKEND_TO_DTMA_API_KEY={KEY}\n")
    with BrokenAgent("good", key=KEY) as agent:
        run = run_smoke(
            DTMA_SMOKE_HOST="127.0.0.1",
            DTMA_SMOKE_PORT=str(agent.port),
            DTMA_SMOKE_ENV_FILE=str(env_file),
            DTMA_SMOKE_LATENCY_BUDGET="1.5",
        )
    assert run.returncode == 0, run.output
    assert f"key: BACKEND_TO_DTMA_API_KEY from {env_file}" in run.output


def test_the_summary_lists_each_promise_and_what_enables_the_opt_ins(run_smoke: RunSmoke) -> None:
    with BrokenAgent("good", key=KEY) as agent:
        run = run_smoke("--host", f"127.0.0.1:{agent.port}", "--api-key", KEY)
    assert run.returncode == 0, run.output
    assert "kept         health" in run.line_of("health")
    assert "enable with --ssh root@HOST[:PORT]" in run.line_of("restart-policy")
    assert "enable with --destructive --tool-image IMAGE" in run.line_of("tool-lifecycle")
    assert "the real backend path was not exercised" in run.output
    assert "--refresh-url URL --user-jwt JWT" in run.output


def test_secrets_never_reach_the_output_or_the_junit_report(
    run_smoke: RunSmoke, tmp_path: Path
) -> None:
    report = tmp_path / "smoke.xml"
    with BrokenAgent("echo_token", key=KEY) as agent:  # puts the key in its 500 bodies
        run = run_smoke(
            "--host",
            f"127.0.0.1:{agent.port}",
            "--api-key",
            KEY,
            f"--junitxml={report}",
            "-l",
            "-vv",
        )
    assert run.returncode == 1, run.output
    assert "the agent is failing: GET /status -> HTTP 500" in run.output
    assert "KeyError while handling 'Bearer ***'" in run.output
    assert KEY not in run.output
    assert KEY not in report.read_text()


def test_junit_report_has_one_case_per_check_with_its_promise(
    run_smoke: RunSmoke, tmp_path: Path
) -> None:
    report = tmp_path / "smoke.xml"
    with BrokenAgent("misconfigured", key=KEY) as agent:
        run_smoke("--host", f"127.0.0.1:{agent.port}", "--api-key", KEY, f"--junitxml={report}")
    cases = ET.parse(report).getroot().iter("testcase")
    by_name = {case.get("name"): case for case in cases}
    failed = by_name["test_status_says_healthy"]
    assert failed.find("failure") is not None
    assert "misconfigured" in (failed.find("failure").get("message") or "")
    promise = failed.find("properties/property[@name='promise']")
    assert promise is not None and promise.get("value") == "status-contract"
    assert by_name["test_backend_key_is_accepted[/status]"].find("failure") is None


def test_runs_with_the_installed_plugins_where_pytest_timeout_owns_timeout(
    run_smoke: RunSmoke,
) -> None:
    with BrokenAgent("good", key=KEY) as agent:
        run = run_smoke(
            "--host",
            f"127.0.0.1:{agent.port}",
            "--api-key",
            KEY,
            "--request-timeout",
            "3",
            plugins=True,
        )
    assert run.returncode == 0, run.output
    help_run = run_smoke("--help", plugins=True)
    assert help_run.returncode == 0, help_run.output
    assert "--latency-budget" in help_run.output and "DTMA_SMOKE_HOST" in help_run.output
