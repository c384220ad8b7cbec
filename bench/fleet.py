"""A fleet rollout against one host: the same code-only change, `fab deploy` to one droplet
and to N droplets (canary 1, the rest in parallel), rounds alternating.

    python -m bench.fleet [--hosts 4,8] [--rounds 3]

Wall time is from `fab` starting to every droplet's /health answering the new release (the
same measure as bench.redeploy). Prints a table on stdout, progress on stderr, and writes
bench/results/fleet-<date>.json. The goal: N=4 within 1.5x one host.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

from bench import ours
from bench.contexts import make_context
from bench.machine import machine_info, write_results
from bench.redeploy import RESULTS_DIR, write_env_file
from bench.runner import SandboxPool, Target, measure, say
from bench.runner import describe as describe_measurement
from tasks.sandbox import Sandbox

FIRST_PORT = 47600
GOAL = 1.5  # N=4 hosts within this many times one host's wall time


def fleet_target(
    hosts: list[Sandbox],
    env_file: Path,
    context: Path,
    canary: int = 1,
    parallel: int = 0,
    flags: tuple[str, ...] = (),
) -> Target:
    """`fab deploy` to `hosts`: `canary` first, then `parallel` at a time (0: all the rest),
    with `flags` added (e.g. --registry)."""
    parallel = parallel or max(1, len(hosts) - canary)
    extra = ("--canary", str(canary), "--parallel", str(parallel), *flags)

    def deploy(target: Target) -> tuple[dict[str, float], dict]:
        keys = [hosts[0].key_path]  # every droplet takes the first one's key (share_key)
        reports = ours.deploy(target.sandboxes, env_file, target.context, extra, keys)
        return {}, {"reports": reports}

    return Target("ours", hosts, context, deploy)


def share_key(boxes: list[Sandbox]) -> None:
    """Every droplet takes the first one's key too: one `-i` for the whole fleet, as with real
    droplets (sshd drops a client after 6 keys tried, so 8 keys of their own would not do)."""
    public = boxes[0].key_path.with_suffix(".pub").read_text().strip()
    for box in boxes[1:]:
        line = f"echo '{public}' >> /root/.ssh/authorized_keys"
        subprocess.run(box.ssh_argv(line), check=True, capture_output=True, timeout=60)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--hosts", default="4", help="fleet sizes, comma list (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size (default 3)")
    parser.add_argument("--parallel", type=int, default=0, help="hosts at a time (0: the rest)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.sizes = sorted({int(n) for n in args.hosts.split(",") if n.strip()})
    if not args.sizes or min(args.sizes) < 2 or args.rounds < 1:
        parser.error("--hosts takes sizes of 2 or more, --rounds 1 or more")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict:
    run_id = args.run_id = secrets.token_hex(3)
    env_file = write_env_file(workdir)
    pool = SandboxPool(f"fleet-bench-{run_id}", FIRST_PORT)
    results: dict = {"sizes": {}, "rounds": args.rounds}
    with pool.session():
        boxes = [pool.up(f"h{i}") for i in range(max(args.sizes))]
        share_key(boxes)
        say(f"[fleet] {len(boxes)} droplets up")
        context = make_context(workdir / "context")
        cold = measure(fleet_target(boxes, env_file, context), "setup", 0, f"{run_id} cold", False)
        say(f"[fleet] first deploy to all (cold, canary 1): {describe_measurement(cold)}")
        if cold.error:
            return {"error": cold.error}
        single = fleet_target(boxes[:1], env_file, context)
        for size in args.sizes:
            results["sizes"][size] = measure_size(boxes[:size], single, env_file, context, args)
    return results


def measure_size(
    boxes: list[Sandbox], single: Target, env_file: Path, context: Path, args: argparse.Namespace
) -> dict:
    """Rounds of: one host, the fleet with a canary, the fleet without. A failed deploy is
    recorded (on 2 cores, many agents starting at once can miss a check's timeout) and the
    rounds go on."""
    size, parallel = len(boxes), args.parallel
    shapes = {
        "one": single,
        "canary": fleet_target(boxes, env_file, context, 1, parallel),
        "no_canary": fleet_target(boxes, env_file, context, 0, parallel),
    }
    times: dict[str, list[float]] = {name: [] for name in shapes}
    after_gate: list[float] = []
    errors: list[str] = []
    for round_no in range(1, args.rounds + 1):
        for name, target in shapes.items():
            m = measure(target, "code", round_no, f"{args.run_id} {size} {name} {round_no}", False)
            say(f"[fleet] {size} hosts, {name}: {describe_measurement(m)}")
            if m.error:
                errors.append(f"{name} round {round_no}: {m.error}")
            else:
                times[name].append(round(m.wall_seconds, 2))
                if name == "canary":
                    after_gate.append(seconds_after_gate(m.details.get("reports", [])))
    row: dict = {
        "parallel": parallel or size - 1,
        "one_host_seconds": times["one"],
        "fleet_seconds": times["canary"],  # canary 1, then `parallel` at a time
        "fleet_no_canary_seconds": times["no_canary"],  # canary 0
        "after_gate_seconds": after_gate,  # with the canary: the slowest host's steps after it
        "errors": errors,
    }
    one = median(times["one"]) if times["one"] else None
    for key, name in (("ratio", "canary"), ("ratio_no_canary", "no_canary")):
        row[key] = round(median(times[name]) / one, 2) if one and times[name] else None
    return row


def seconds_after_gate(reports: list[dict]) -> float:
    """What the hosts after the canary had left once it passed: the slowest one's steps after
    its wait at the gate (release, verify)."""
    left = [0.0]
    for report in reports:
        phases = list((report.get("phases") or {}).items())
        names = [name for name, _ in phases]
        if "gate" in names:
            left.append(sum(seconds for _, seconds in phases[names.index("gate") + 1 :]))
    return round(max(left), 2)


def cell(seconds: list[float], ratio: float | None) -> str:
    if not seconds:
        return "failed"
    return f"{median(seconds):.1f} s" + (f" ({ratio:.2f}x)" if ratio else "")


def render(results: dict) -> str:
    if results.get("error"):
        return f"fleet benchmark failed: {results['error']}"
    lines = [
        "| hosts | one host | canary 1, then in parallel | canary 0, in parallel |",
        "|---|---|---|---|",
    ]
    for size, row in results["sizes"].items():
        verdict = ""
        if int(size) == 4 and row["ratio"]:
            verdict = " goal met" if row["ratio"] <= GOAL else f" goal {GOAL}x missed"
        lines.append(
            f"| {size} (parallel {row['parallel']}) | {cell(row['one_host_seconds'], None)} "
            f"| {cell(row['fleet_seconds'], row['ratio'])}{verdict} "
            f"| {cell(row['fleet_no_canary_seconds'], row['ratio_no_canary'])} |"
        )
        lines += [f"  failed: {error}" for error in row["errors"]]
    lines.append(f"medians of {results['rounds']} rounds, code-only change, wall time to healthy")
    for size, row in results["sizes"].items():
        if row.get("after_gate_seconds"):
            lines.append(
                f"{size} hosts with a canary: once it passed, the others' release and verify "
                f"took {median(row['after_gate_seconds']):.1f} s (the slowest host)"
            )
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
    write_results(args.out, "fleet-", datetime.now(UTC), results)
    return 0 if not results.get("error") else 1


if __name__ == "__main__":
    sys.exit(main())
