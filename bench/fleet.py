"""A fleet rollout against one host: the same code-only change, `fab deploy` to one droplet
and to N droplets (canary 1, the rest in parallel), rounds alternating.

    python -m bench.fleet [--hosts 4,8] [--rounds 3]

Wall time is from `fab` starting to every droplet's /health answering the new release (the
same measure as bench.redeploy). Prints a table on stdout, progress on stderr, and writes
bench/results/fleet-<date>.json. The goal: N=4 within 1.5x one host.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

from bench import ours
from bench.contexts import make_context
from bench.machine import machine_info
from bench.redeploy import RESULTS_DIR, write_env_file
from bench.runner import SandboxPool, Target, measure, say
from bench.runner import describe as describe_measurement
from tasks.sandbox import Sandbox

FIRST_PORT = 47600
GOAL = 1.5  # N=4 hosts within this many times one host's wall time


def fleet_target(hosts: list[Sandbox], env_file: Path, context: Path, canary: int = 1) -> Target:
    """`fab deploy` to `hosts`: `canary` first, then all the others at once."""
    extra = ("--canary", str(canary), "--parallel", str(max(1, len(hosts) - canary)))

    def deploy(target: Target) -> tuple[dict[str, float], dict]:
        reports = ours.deploy(target.sandboxes, env_file, target.context, extra)
        return {}, {"reports": reports}

    return Target("ours", hosts, context, deploy)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--hosts", default="4", help="fleet sizes, comma list (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size (default 3)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.sizes = sorted({int(n) for n in args.hosts.split(",") if n.strip()})
    if not args.sizes or min(args.sizes) < 2 or args.rounds < 1:
        parser.error("--hosts takes sizes of 2 or more, --rounds 1 or more")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict:
    run_id = secrets.token_hex(3)
    env_file = write_env_file(workdir)
    pool = SandboxPool(f"fleet-bench-{run_id}", FIRST_PORT)
    results: dict = {"sizes": {}, "rounds": args.rounds}
    with pool.session():
        boxes = [pool.up(f"h{i}") for i in range(max(args.sizes))]
        say(f"[fleet] {len(boxes)} droplets up")
        context = make_context(workdir / "context")
        cold = measure(fleet_target(boxes, env_file, context), "setup", 0, f"{run_id} cold", False)
        say(f"[fleet] first deploy to all (cold, canary 1): {describe_measurement(cold)}")
        if cold.error:
            return {"error": cold.error}
        single = fleet_target(boxes[:1], env_file, context)
        for size in args.sizes:
            canary = fleet_target(boxes[:size], env_file, context)
            no_canary = fleet_target(boxes[:size], env_file, context, canary=0)
            times: dict[str, list[float]] = {"one": [], "canary": [], "no_canary": []}
            for round_no in range(1, args.rounds + 1):
                for name, target in (("one", single), ("canary", canary), ("no_canary", no_canary)):
                    m = measure(
                        target, "code", round_no, f"{run_id} {size} {name} {round_no}", False
                    )
                    say(f"[fleet] {size} hosts, {name}: {describe_measurement(m)}")
                    if m.error:
                        return {"error": m.error}
                    times[name].append(round(m.wall_seconds, 2))
            one = median(times["one"])
            results["sizes"][size] = {
                "one_host_seconds": times["one"],
                "fleet_seconds": times["canary"],  # canary 1, then the rest at once
                "fleet_no_canary_seconds": times["no_canary"],  # all at once
                "ratio": round(median(times["canary"]) / one, 2),
                "ratio_no_canary": round(median(times["no_canary"]) / one, 2),
            }
    return results


def render(results: dict) -> str:
    if results.get("error"):
        return f"fleet benchmark failed: {results['error']}"
    lines = [
        "| hosts | one host | canary 1, rest at once | all at once (canary 0) |",
        "|---|---|---|---|",
    ]
    for size, row in results["sizes"].items():
        one, many = median(row["one_host_seconds"]), median(row["fleet_seconds"])
        flat = median(row["fleet_no_canary_seconds"])
        verdict = ""
        if int(size) == 4:
            verdict = " goal met" if row["ratio"] <= GOAL else f" goal {GOAL}x missed"
        lines.append(
            f"| {size} | {one:.1f} s | {many:.1f} s ({row['ratio']:.2f}x{verdict}) "
            f"| {flat:.1f} s ({row['ratio_no_canary']:.2f}x) |"
        )
    lines.append(f"medians of {results['rounds']} rounds, code-only change, wall time to healthy")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if reason := ours.unavailable_reason():
        print(f"fab deploy cannot be benchmarked here: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="dtma-fleet-bench-") as work:
        results = run(args, Path(work))
    results["machine"] = machine_info()
    print(render(results))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = args.out / f"fleet-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {path}")
    return 0 if not results.get("error") else 1


if __name__ == "__main__":
    sys.exit(main())
