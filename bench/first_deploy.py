"""The first deploy of N fresh droplets over the operator's limited uplink: straight from this
machine (each host gets the whole image up the uplink) vs `--registry` (the image goes up once,
to a registry on the droplets' side; each host pulls it from there). Same shape both ways:
canary 1, then the rest in parallel.

    python -m bench.first_deploy [--hosts 8] [--rounds 1] [--rate 50mbit]

The uplink: a token bucket on this machine's loopback, which carries everything `fab` and the
local engine send (SSH reaches the droplets through Docker's port proxy on 127.0.0.1; the push
goes to the registry's address on this machine); droplets pull over the Docker bridge, not
shaped. Each round starts from wiped droplets and an empty registry. Wall time is from `fab`
starting to every droplet's /health answering. Writes bench/results/first-deploy-<date>.json.
The goal: through the registry in at most 1/4 of the straight time.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

from bench import ours
from bench.contexts import make_context
from bench.fleet import fleet_target, share_key
from bench.machine import machine_info, write_results
from bench.redeploy import RESULTS_DIR, write_env_file
from bench.runner import SandboxPool, measure, say
from bench.runner import describe as describe_measurement
from bench.shaping import operator_uplink, uplink_bytes
from bench.units import human_bytes
from tasks.sandbox import Sandbox
from tasks.sandbox.registry import running_registry, trust_in

FIRST_PORT = 47800
GOAL = 0.25  # through the registry, at most this share of the straight time
WAYS = ("straight", "registry")
WIPE = (
    "docker ps -aq | xargs -r docker rm -f >/dev/null; docker image prune -a -f >/dev/null; "
    "rm -rf /etc/dtma /var/lib/dtma-deploy /var/tmp/dtma-deploy"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.first_deploy", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--hosts", type=int, default=8, help="fresh droplets (default 8)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of both ways (default 1)")
    parser.add_argument("--rate", default="50mbit", help="the uplink, a tc rate (default 50mbit)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.hosts < 2 or args.rounds < 1:
        parser.error("--hosts takes 2 or more, --rounds 1 or more")
    return args


def wipe(boxes: list[Sandbox]) -> None:
    """Every droplet as fresh as a new one: no container, no image, no env file, no lock."""

    def one(box: Sandbox) -> None:
        subprocess.run(box.ssh_argv(WIPE), check=True, capture_output=True, timeout=300)

    with ThreadPoolExecutor(len(boxes)) as pool:
        list(pool.map(one, boxes))


def first_deploy(boxes, env_file, context, flags, rate: str, label: str) -> dict:
    """Wipe the droplets, then one measured deploy to all of them with the uplink at `rate`."""
    wipe(boxes)
    target = fleet_target(boxes, env_file, context, flags=flags)
    with operator_uplink(rate):
        before = uplink_bytes()
        m = measure(target, "code", 0, f"{label} {secrets.token_hex(3)}", False)
        uplink = uplink_bytes() - before
    say(f"[first-deploy] {label}: {describe_measurement(m)}; uplink {human_bytes(uplink)}")
    seconds = None if m.error else round(m.wall_seconds, 2)
    return {"seconds": seconds, "uplink_bytes": uplink, "error": m.error}


def run(args: argparse.Namespace, workdir: Path) -> dict:
    env_file = write_env_file(workdir)
    pool = SandboxPool(f"first-bench-{secrets.token_hex(3)}", FIRST_PORT)
    runs: dict[str, list[dict]] = {way: [] for way in WAYS}
    with pool.session():
        boxes = [pool.up(f"h{i}") for i in range(args.hosts)]
        share_key(boxes)
        say(f"[first-deploy] {len(boxes)} droplets up")
        context = make_context(workdir / "context")
        built = subprocess.run(
            [str(ours.FAB), "build", "--context", str(context)],
            cwd=ours.PROJECT_DIR,
            capture_output=True,
            text=True,
        )
        if built.returncode != 0:
            return {"error": f"fab build failed: {built.stderr.strip()[-300:]}"}
        for round_no in range(1, args.rounds + 1):
            label = f"{args.hosts} fresh droplets, round {round_no}"
            runs["straight"].append(
                first_deploy(boxes, env_file, context, (), args.rate, f"straight, {label}")
            )
            with running_registry(workdir / f"registry-{round_no}") as registry:  # empty
                for box in boxes:
                    trust_in(box.name, registry)
                flags = ("--registry", registry.repository("bench/dtma"))
                runs["registry"].append(
                    first_deploy(boxes, env_file, context, flags, args.rate, f"registry, {label}")
                )
    return {"hosts": args.hosts, "rate": args.rate, "rounds": args.rounds, "runs": runs}


def summary(results: dict) -> dict:
    """Median seconds and uplink bytes of each way, and the registry's share of the straight."""
    out: dict = {}
    for way in WAYS:
        done = [r for r in results["runs"][way] if r["seconds"] is not None]
        out[way] = {
            "seconds": median(r["seconds"] for r in done) if done else None,
            "uplink_bytes": median(r["uplink_bytes"] for r in done) if done else None,
            "failed": len(results["runs"][way]) - len(done),
        }
    straight, through = out["straight"]["seconds"], out["registry"]["seconds"]
    out["share"] = round(through / straight, 3) if straight and through else None
    return out


def render(results: dict) -> str:
    if results.get("error"):
        return f"first-deploy benchmark failed: {results['error']}"
    s = results["summary"]

    def cell(way: str) -> str:
        row = s[way]
        if row["seconds"] is None:
            return "failed"
        failed = f", {row['failed']} failed" if row["failed"] else ""
        return f"{row['seconds']:.1f} s, {human_bytes(row['uplink_bytes'])} up{failed}"

    verdict = ""
    if s["share"] is not None:
        verdict = f"{s['share']:.2f}x " + (
            "goal met" if s["share"] <= GOAL else f"goal {GOAL}x missed"
        )
    head = "| droplets (fresh) | operator uplink | straight from here | through a registry |"
    row = f"| {results['hosts']} | {results['rate']} | {cell('straight')} | {cell('registry')} |"
    return "\n".join(
        [
            head + " registry / straight |",
            "|---|---|---|---|---|",
            f"{row} {verdict} |",
            f"medians of {results['rounds']} round(s), canary 1 then the rest in parallel, "
            "wall time to every droplet healthy",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if reason := ours.unavailable_reason():
        print(f"fab deploy cannot be benchmarked here: {reason}", file=sys.stderr)
        return 1
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="dtma-first-bench-") as work:
        results = run(args, Path(work))
    if not results.get("error"):
        results["summary"] = summary(results)
    results["machine"] = machine_info()
    print(render(results))
    write_results(args.out, "first-deploy-", started, results)
    return 0 if not results.get("error") else 1


if __name__ == "__main__":
    sys.exit(main())
