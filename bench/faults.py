"""The fault matrix: inject each fault for real against sandbox droplets, print what happened.

    python -m bench.faults [pytest args...]      (`make faults`)

Runs tests/faults (every test ends with the smoke suite passing against the host); each passing
test appends its figures to a JSONL side channel. Prints a table (fault, result, recovery
seconds, what was lost) and writes bench/results/faults-<date>.json. Faults proven by tests in
other folders are listed with the test that covers them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
RESULTS_ENV = "DTMA_FAULTS_RESULTS"  # tests/faults/support.py writes here

# Proven elsewhere (and run by `make test`); not repeated in tests/faults.
DEPLOY_E2E = "tests/deploy/e2e/test_deploy.py::"
SHIP_E2E = "tests/deploy/e2e/test_ship.py::"
COVERED_ELSEWHERE = {
    "Docker daemon stopped": DEPLOY_E2E + "test_two_hosts_then_a_broken_second_host",
    "env file missing a key": DEPLOY_E2E + "test_bad_env_file_is_refused_before_touching_the_host",
    "image listens on 3030": DEPLOY_E2E + "test_broken_candidate_never_touches_the_running_agent",
    "image crashes at start": DEPLOY_E2E + "test_broken_candidate_never_touches_the_running_agent",
    "another deploy running": DEPLOY_E2E + "test_concurrent_deploy_fails_fast_naming_the_holder",
    "cut transfer (ship level)": SHIP_E2E + "test_cut_transfer_is_a_clear_error_"
    "and_the_next_ship_recovers",
    "full staging disk (ship level)": SHIP_E2E + "test_too_small_stage_dir_fails_"
    "before_changing_anything",
    "backend hangs (heartbeat)": "tests/agent/test_heartbeat.py::test_hanging_receiver_times_out_"
    "and_backs_off",
    "schema fuzzing": "tests/agent/test_fuzz.py::test_zero_server_errors_against_the_real_engine",
}


def failed_tests(junit: Path) -> list[str]:
    """Test names (`file::name`) that failed or errored, from pytest's JUnit XML."""
    if not junit.exists():
        return ["(pytest wrote no report)"]
    failed = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return failed


def figures(row: dict) -> str:
    skip = {"fault", "test", "recovery_seconds", "lost"}
    return ", ".join(f"{key}={value}" for key, value in row.items() if key not in skip)


def render(rows: list[dict], failed: list[str]) -> str:
    width = max(len(row["fault"]) for row in rows) if rows else 10
    lines = [f"{'fault':<{width}}  {'result':<9} {'recovery s':>10}  {'lost':<8} figures"]
    for row in rows:
        seconds = "" if row["recovery_seconds"] is None else f"{row['recovery_seconds']:.2f}"
        head = f"{row['fault']:<{width}}  {'survived':<9} {seconds:>10}  {row['lost']:<8}"
        lines.append(f"{head} {figures(row)}")
    lines += [f"{name:<{width}}  {'FAILED':<9} {'':>10}  {'?':<8}" for name in failed]
    lines.append("")
    lines += [f"{fault:<30} covered by {test}" for fault, test in COVERED_ELSEWHERE.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="dtma-faults-") as scratch:
        channel, junit = Path(scratch) / "faults.jsonl", Path(scratch) / "junit.xml"
        started = datetime.now(UTC)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/faults",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={junit}",
                *argv,
            ],
            cwd=PROJECT_DIR,
            env={**os.environ, RESULTS_ENV: str(channel)},
        )
        rows = (
            [json.loads(line) for line in channel.read_text().splitlines()]
            if channel.exists()
            else []
        )
        failed = failed_tests(junit) if done.returncode else []
    print(render(rows, failed))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"faults-{started:%Y%m%d-%H%M%S}.json"
    result = {
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "injected": len(rows) + len(failed),
        "survived": len(rows),
        "failed": failed,
        "faults": rows,
        "covered_elsewhere": COVERED_ELSEWHERE,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    where = out.relative_to(PROJECT_DIR)
    if failed:
        print(f"\n{len(failed)} fault test(s) FAILED; wrote {where}")
    else:
        print(f"\n{len(rows)} of {len(rows)} faults survived, nothing lost; wrote {where}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
