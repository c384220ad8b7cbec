"""Redeploy cost: `fab deploy` against `docker save | gzip | ssh docker load`, side by side.

    python -m bench.redeploy [--rounds N] [--cold-rounds N] [--cases code,deps,nochange,cold,multi]
                             [--links loopback,50mbit,50mbit-30ms] [--shaped-cases code,nochange]
                             [--engine classic|containerd]

Each pipeline deploys to its own sandbox droplet, so the two never share layers on a host. The
first deploy of each is the warm-up (unmeasured); then, per case, the rounds alternate baseline,
ours, baseline, ours ... Defaults: code 3 rounds, deps 1, nochange 3, cold 1 on loopback (fewer
than 5 so that the whole `make bench` fits in 20 minutes on 2 cores). Then, per shaped link, on
a pair of droplets whose veths are shaped to 50 Mbit/s after their first deploy (and, for
50mbit-30ms, reached through relays adding 30 ms each way: bench/relay.py): code 3, nochange 2.
`--engine containerd`: droplets whose engine uses the containerd image store (Docker 29's
default), where ours sends a partial OCI layout. Prints a table on stdout, progress on stderr,
and writes bench/results/<date>.json (the engine in its settings and its name).
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from subprocess import CalledProcessError

import docker

from bench import ours
from bench.baseline import Baseline, StepFailed
from bench.contexts import PROJECT_DIR, make_context
from bench.figures import Measurement, summarize_case
from bench.goals import judge, judge_nochange_wall
from bench.machine import machine_info, write_results
from bench.multihost import multi_host, render_multi
from bench.relay import delayed
from bench.runner import SandboxPool, Target, baseline_target, measure, ours_target, run_rounds, say
from bench.runner import describe as describe_measurement
from bench.shaping import DELAYS, LINKS, ShapingError, apply_link
from bench.table import render_cases, render_goals, render_links
from tasks.images import resolve_base_image
from tasks.sandbox import ENGINES, Sandbox, SandboxError

CASES = ("code", "deps", "nochange", "cold", "multi")
REDEPLOY_CASES = ("code", "deps", "nochange")
# Cut from 5 so that `make bench` fits in 15 minutes on 2 cores; `--rounds 5` restores them.
DEFAULT_ROUNDS = {"code": 3, "deps": 1, "nochange": 3}
SHAPED_ROUNDS = {"code": 3, "deps": 1, "nochange": 2}
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
FIRST_PORT = 47300


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.redeploy", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("--rounds", type=int, help="rounds of code, deps, nochange (default 3, 1, 3)")
    add("--cold-rounds", type=int, default=1, help="rounds of cold, fresh droplets each (1)")
    add("--warmup", type=int, default=0, help="unmeasured code-only rounds (0: see above)")
    add("--cases", default=",".join(CASES), help=f"comma list from {','.join(CASES)} (all)")
    add("--links", default=",".join(LINKS), help=f"comma list from {','.join(LINKS)} (all)")
    add("--shaped-cases", default="code,nochange", help="cases run on a shaped link")
    add("--out", type=Path, default=RESULTS_DIR, help="folder for the JSON (bench/results)")
    add("--engine", choices=sorted(ENGINES), default="classic", help="droplets' engine kind")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.links = [c.strip() for c in args.links.split(",") if c.strip()]
    args.shaped_cases = [c.strip() for c in args.shaped_cases.split(",") if c.strip()]
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    if set(args.links) - set(LINKS) or set(args.shaped_cases) - set(REDEPLOY_CASES):
        parser.error(f"--links from {','.join(LINKS)}; --shaped-cases from code,deps,nochange")
    if min(args.rounds or 1, args.cold_rounds) < 1 or args.warmup < 0:
        parser.error("--rounds and --cold-rounds must be at least 1, --warmup at least 0")
    args.case_rounds = {c: args.rounds or n for c, n in DEFAULT_ROUNDS.items()}
    args.case_rounds["cold"] = args.cold_rounds
    args.shaped_rounds = {c: args.rounds or n for c, n in SHAPED_ROUNDS.items()}
    return args


def write_env_file(folder: Path) -> Path:
    """Throwaway credentials; the heartbeat goes to the agent container's own loopback, so the
    agent puts nothing on the droplet's wire between deploys."""
    path = folder / "bench.env"
    path.touch(mode=0o600)
    path.write_text(
        f"DTMA_BEARER_TOKEN={secrets.token_hex(16)}\n"
        f"BACKEND_TO_DTMA_API_KEY={secrets.token_hex(16)}\n"
        "AGENTOPIA_API_BASE_URL=http://127.0.0.1:9/functions/v1\n"
        "PORT=30000\n"
    )
    return path


class Run:
    """One benchmark run: its sandboxes, contexts, measurements and what ours could not do."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.run_id = secrets.token_hex(3)
        self.pool = SandboxPool(f"dtma-bench-{self.run_id}", FIRST_PORT, args.engine)
        self.env_file = write_env_file(workdir)
        self.base_image = resolve_base_image(None, docker.from_env(), quiet=True)
        self.tag = f"dtma-bench-baseline-{self.run_id}:latest"
        self.ours_missing = ours.unavailable_reason()
        self.measurements: list[Measurement] = []
        # Every deploy, measured or not: the images they built are removed at the end.
        self.deploys: list[Measurement] = []
        # Droplets the cold case deployed ours to, kept for the multi-host case.
        self.ours_deployed: list[Sandbox] = []
        self.multi: dict | None = None

    def baseline_on(self, role: str, context: Path) -> Target:
        pipeline = Baseline(self.pool.up(role), self.env_file, self.base_image, self.tag)
        pipeline.install_env()
        return baseline_target(pipeline, context)

    def first_deploy(self, target: Target, label: str) -> bool:
        """An unmeasured deploy; a failing `ours` makes ours "not available" for the rest."""
        say(f"[{label}] {target.pipeline} first deploy to {target.sandboxes[0].name} ...")
        m = measure(target, "setup", 0, f"{self.run_id} setup", probe=False)
        self.deploys.append(m)
        say(f"[{label}] {target.pipeline}: {describe_measurement(m)}")
        if m.error and target.pipeline == "ours":
            self.ours_missing = m.error
        return m.error is None

    def redeploys(self, link: str, contexts: dict[str, Path], cases: list[str]) -> list[Target]:
        """A droplet per pipeline, a first deploy each, then the rounds of `cases` on `link`
        (shaped after the first deploy: only the measured rounds pay for the slow link)."""
        suffix = "" if link == "loopback" else f"-{link}"
        targets = [self.baseline_on(f"baseline{suffix}", contexts["baseline"])]
        if self.ours_missing is None:
            pool_up = self.pool.up(f"ours{suffix}")
            targets.append(ours_target([pool_up], self.env_file, contexts["ours"]))
        targets = [t for t in targets if self.first_deploy(t, f"setup {link}")]
        with contextlib.ExitStack() as relays:
            for target in targets:
                apply_link(target.sandboxes[0].name, link)
                if link in DELAYS:
                    far = relays.enter_context(delayed(target.sandboxes[0], DELAYS[link]))
                    target.sandboxes[0] = far
            self.measure_rounds(link, targets, cases)
        return targets

    def measure_rounds(self, link: str, targets: list[Target], cases: list[str]) -> None:
        if self.args.warmup and link == "loopback":
            warm = run_rounds(targets, "code", self.args.warmup, self.run_id, True, "warm-up")
            self.deploys += warm
        rounds = self.args.case_rounds if link == "loopback" else self.args.shaped_rounds
        for case in (c for c in REDEPLOY_CASES if c in cases):
            label = case if link == "loopback" else f"{case}@{link}"
            done = run_rounds(targets, case, rounds[case], f"{self.run_id} {link}", True, label)
            for m in done:
                m.case = label
            self.measurements += done

    def execute(self) -> None:
        cases = self.args.cases
        contexts = {p: make_context(self.workdir / f"context-{p}") for p in ("baseline", "ours")}
        targets: list[Target] = []
        if "loopback" in self.args.links and any(c in cases for c in (*REDEPLOY_CASES, "multi")):
            targets = self.redeploys("loopback", contexts, cases)
        for link in (link for link in self.args.links if link != "loopback"):
            self.redeploys(link, contexts, [c for c in self.args.shaped_cases if c in cases])
        if "cold" in cases:
            self.cold(contexts)
        if "multi" in cases:
            ours_single = next((t for t in targets if t.pipeline == "ours"), None)
            if ours_single is None or self.ours_missing:
                self.multi = {"error": f"ours not available: {self.ours_missing}"}
            else:
                self.multi = multi_host(
                    self.pool,
                    ours_single,
                    self.ours_deployed,
                    self.env_file,
                    self.run_id,
                    self.deploys.append,
                )

    def cold(self, contexts: dict[str, Path]) -> None:
        """Every round on fresh, empty droplets: the first deploy a new server gets."""
        rounds = self.args.cold_rounds
        for round_no in range(1, rounds + 1):
            for pipeline in ("baseline", "ours"):
                if pipeline == "ours" and self.ours_missing:
                    continue
                role = f"cold-{pipeline}-{round_no}"
                if pipeline == "baseline":
                    target = self.baseline_on(role, contexts["baseline"])
                else:
                    target = ours_target([self.pool.up(role)], self.env_file, contexts["ours"])
                say(f"[cold {round_no}/{rounds}] {pipeline} to a fresh droplet ...")
                m = measure(target, "cold", round_no, "", probe=False)
                say(f"[cold {round_no}/{rounds}] {pipeline}: {describe_measurement(m)}")
                self.measurements.append(m)
                keep = "multi" in self.args.cases and len(self.ours_deployed) < 2
                if pipeline == "ours" and keep and m.error is None:
                    self.ours_deployed.append(target.sandboxes[0])
                else:
                    self.pool.down(target.sandboxes[0])

    def remove_images(self) -> None:
        """The images this run built on the local engine (nobody else's)."""
        refs = {self.tag}
        for m in self.measurements + self.deploys:
            for report in m.details.get("reports", []):
                if report.get("new_image") and not str(report["new_image"]).endswith(":latest"):
                    refs.add(report["new_image"])
        client = docker.from_env()
        for ref in refs:
            # Still in use by a container, or already gone: leave it.
            with contextlib.suppress(docker.errors.DockerException):
                client.images.remove(ref, noprune=False)


def report(run: Run, started_at: datetime, seconds: float) -> dict:
    """Print the table and the goals; return the JSON document of the run."""
    args = run.args
    labels = dict.fromkeys(m.case for m in run.measurements)
    summaries = {c: summarize_case(c, run.measurements) for c in labels}
    goals = []
    for link in args.links:
        on_link = {c.partition("@")[0]: s for c, s in summaries.items() if link_of(c) == link}
        goals += [g.on_link(link) for g in (*judge(on_link), judge_nochange_wall(on_link))]
    print(render_cases(summaries, "not available" if run.ours_missing else "-"))
    if run.multi is not None:
        print(render_multi(run.multi))
    if run.ours_missing:
        print(f"ours: not available: {run.ours_missing}")
    print(render_links(summaries, args.links))
    print(render_goals(goals))
    machine = machine_info()
    print(f"run took {seconds:.0f} s on {machine['cores']} cores ({args.engine} droplets)")
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_seconds": round(seconds, 1),
        "machine": machine,
        "settings": {
            "rounds": {c: n for c, n in args.case_rounds.items() if c in args.cases},
            "warmup": args.warmup,
            "links": args.links,
            "shaped_rounds": {c: args.shaped_rounds[c] for c in args.shaped_cases},
            "shaping": "tc tbf rate 50mbit burst 32kbit latency 400ms on the droplet's host veth",
            "cases": args.cases,
            "engine": args.engine,
            "baseline": "docker build; docker save | gzip -1 | ssh docker load; stop, rm, run",
            "wire_bytes": "rx_bytes of the target droplet's eth0, before and after",
            "probe_interval_seconds": 0.05,
        },
        "ours": {"available": run.ours_missing is None, "reason": run.ours_missing},
        "cases": {c: s.as_dict() for c, s in summaries.items()},
        "multi_host": run.multi,
        "goals": [g.as_dict() for g in goals],
        "measurements": [m.as_dict() for m in run.measurements],
    }


def link_of(case_label: str) -> str:
    """ "code@50mbit" -> "50mbit"; "code" -> "loopback"."""
    return case_label.partition("@")[2] or "loopback"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, started_at = time.monotonic(), datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="dtma-bench-"))
    try:
        run = Run(args, workdir)
        if run.ours_missing:
            say(f"ours: not available ({run.ours_missing}); measuring the baseline only")
        with run.pool.session():
            run.execute()
        run.remove_images()
    except (
        SandboxError,
        StepFailed,
        ShapingError,
        docker.errors.DockerException,
        CalledProcessError,
    ) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    document = report(run, started_at, time.monotonic() - started)
    prefix = "" if args.engine == "classic" else f"{args.engine}-"
    write_results(args.out, prefix, started_at, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
