"""Agent start: process start -> first `/health` 200 (and first `/status` 200) of `python -m dtma`.

    python -m bench.agent_start [--starts N] [--out bench/results]

Each start runs a fresh `python -m dtma` on a free loopback port, polls it every 5 ms (a request
that connects early simply waits for its answer), records both times and stops it with SIGTERM.
N starts idle, then N with one core kept busy by a CPU hog (`python3 -c 'while True: pass'`).
Prints a table (median and p90) and writes bench/results/agent-start-<date>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.machine import machine_info
from tests.support.ports import free_port

PROJECT_DIR = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
POLL_SECONDS = 0.005
GIVE_UP_SECONDS = 60.0
FIGURES = ("health_seconds", "status_seconds")


def agent_env(port: int) -> dict[str, str]:
    """A fully configured agent; its heartbeat goes to a loopback port nobody listens on."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_DIR),
        "PORT": str(port),
        "DTMA_SERVING_FILE": "/tmp/dtma-bench-serving-port",  # not the host's /run
        "DTMA_BEARER_TOKEN": "bench-droplet-token",
        "BACKEND_TO_DTMA_API_KEY": "bench-backend-key",
        "AGENTOPIA_API_BASE_URL": f"http://127.0.0.1:{free_port()}/functions/v1",
    }


def first_ok(url: str, began: float, process: subprocess.Popen) -> float:
    """Seconds from `began` until `url` first answers 200."""
    session = requests.Session()
    while time.monotonic() - began < GIVE_UP_SECONDS:
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited with {process.returncode} before {url} answered")
        try:
            if session.get(url, timeout=GIVE_UP_SECONDS).status_code == 200:
                return time.monotonic() - began
        except requests.RequestException:
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{url} did not answer 200 within {GIVE_UP_SECONDS:.0f} s")


def one_start() -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "dtma"],
        env=agent_env(port),
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = first_ok(f"{base}/health", began, process)
        status = first_ok(f"{base}/status", began, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return {"health_seconds": health, "status_seconds": status}


@contextlib.contextmanager
def one_core_busy() -> Iterator[None]:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        figure: {
            "median": percentile([run[figure] for run in runs], 0.5),
            "p90": percentile([run[figure] for run in runs], 0.9),
            "min": min(run[figure] for run in runs),
            "max": max(run[figure] for run in runs),
        }
        for figure in FIGURES
    }


def render(summaries: dict[str, dict[str, dict[str, float]]], starts: int) -> str:
    rows = [("condition", "first /health 200: median / p90", "first /status 200: median / p90")]
    for condition, figures in summaries.items():
        cells = [f"{figures[f]['median']:.3f} s / {figures[f]['p90']:.3f} s" for f in FIGURES]
        rows.append((f"{condition} ({starts} starts)", *cells))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agent_start", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--starts", type=int, default=10, help="starts per condition (10)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for the JSON")
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC)
    one_start()  # warm-up: the first start after a change pays for compiling the bytecode
    runs: dict[str, list[dict[str, float]]] = {"idle": [], "one core busy": []}
    for _ in range(args.starts):
        runs["idle"].append(one_start())
    with one_core_busy():
        for _ in range(args.starts):
            runs["one core busy"].append(one_start())
    summaries = {condition: summary(values) for condition, values in runs.items()}
    print(render(summaries, args.starts))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"agent-start-{started_at.strftime('%Y-%m-%dT%H%M%SZ')}.json"
    document = {
        "started_at": started_at.isoformat(),
        "starts_per_condition": args.starts,
        "machine": machine_info(),
        "summary": summaries,
        "runs": runs,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path.relative_to(PROJECT_DIR) if path.is_relative_to(PROJECT_DIR) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
