"""This project's path: `fab -H … deploy`, run as an operator would; figures from its reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.baseline import STEP_TIMEOUT, StepFailed
from bench.contexts import PROJECT_DIR
from tasks.sandbox import Sandbox
from tasks.sandbox.droplet import KNOWN_HOSTS

FAB = Path(sys.executable).with_name("fab")
REPORT_KEYS = (
    "phases", "exchanges", "total_exchanges", "bytes_sent", "image_bytes", "layers_total",
    "layers_sent", "new_image",
)  # fmt: skip


def fab_argv(
    sandboxes: Sequence[Sandbox],
    env_file: Path,
    context: Path,
    extra: Sequence[str] = (),
    keys: Sequence[Path] | None = None,
) -> list[str]:
    """One `fab` command deploying to every sandbox; each gets its own key and verify URL
    (or only `keys`: sshd refuses a client after 6 keys tried, so big fleets share one)."""
    hosts = [s.host for s in sandboxes]
    if len(sandboxes) == 1:
        verify = sandboxes[0].agent_url
    else:
        verify = ",".join(f"{s.host}={s.agent_url}" for s in sandboxes)
    paths = [s.key_path for s in sandboxes] if keys is None else keys
    key_args = [arg for path in paths for arg in ("-i", str(path))]
    return [
        str(FAB), "-H", ",".join(hosts), *key_args, "deploy",
        "--env-file", str(env_file), "--verify-url", verify, "--context", str(context),
        "--known-hosts", str(KNOWN_HOSTS), *extra,
    ]  # fmt: skip


def unavailable_reason() -> str | None:
    """Why `fab deploy` cannot be benchmarked here, or None when it can be."""
    if not FAB.exists():
        return f"{FAB} is missing (make install)"
    shown = subprocess.run(
        [str(FAB), "--help", "deploy"], cwd=PROJECT_DIR, capture_output=True, text=True
    )
    if shown.returncode != 0:
        last = (shown.stderr or shown.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"`fab --help deploy` failed: {last[0]}"
    needed = ("--context", "--verify-url", "--env-file")
    missing = [flag for flag in needed if flag not in shown.stdout]
    return f"`fab deploy` lacks {', '.join(missing)}" if missing else None


def read_reports(folder: Path) -> list[dict]:
    """The JSON reports `fab deploy` wrote (one per host), without anything but the figures
    (a fleet run's own record is left out)."""
    reports = []
    for path in sorted(p for p in folder.glob("*.json") if not p.name.startswith("fleet-")):
        data = json.loads(path.read_text())
        reports.append({key: data.get(key) for key in REPORT_KEYS})
    return reports


def deploy(
    sandboxes: Sequence[Sandbox],
    env_file: Path,
    context: Path,
    extra: Sequence[str] = (),
    keys: Sequence[Path] | None = None,
) -> list[dict]:
    """Run `fab deploy` to the sandboxes; return its per-host reports. Raises StepFailed."""
    with tempfile.TemporaryDirectory(prefix="dtma-bench-reports-") as folder:
        try:
            done = subprocess.run(
                fab_argv(sandboxes, env_file, context, extra, keys),
                cwd=PROJECT_DIR,
                env={**os.environ, "DTMA_DEPLOY_REPORTS_DIR": folder},
                capture_output=True,
                text=True,
                check=False,
                timeout=STEP_TIMEOUT * len(sandboxes),
            )
        except subprocess.TimeoutExpired:
            raise StepFailed(f"fab deploy took over {STEP_TIMEOUT:.0f} s a host") from None
        if done.returncode != 0:
            lines = (done.stderr.strip() or done.stdout.strip()).splitlines() or [""]
            raise StepFailed(f"fab deploy failed (exit {done.returncode}): {lines[-1]}")
        return read_reports(Path(folder))
