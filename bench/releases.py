"""Releases under load: failed requests and the longest gap a client sees, per release kind.

    python -m bench.releases [--links loopback,50mbit] [--threads 8] [--rate 80]

One droplet gets `fab deploy`, another the plain path. Then, per link (the droplets' veths
unshaped, then shaped to 50 Mbit/s), each kind of release runs while LoadProbe opens a fresh
connection for every request to the droplet's public port (8 threads, >= 50 requests/s):
a code-change `fab deploy` (with the backend stand-in's refresh-status pressed in a loop at the
same time), `fab deploy --restart-anyway`, `fab rollback`, a refused candidate (its CMD exits 1)
and, for comparison, the plain path's stop/rm/run release of a code change. Prints a table on
stdout, progress on stderr, and writes bench/results/releases-<date>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import docker

from bench import ours
from bench.baseline import Baseline, StepFailed
from bench.contexts import PROJECT_DIR, apply_change, make_context
from bench.host import wait_for_health
from bench.load import LoadProbe
from bench.machine import machine_info, write_results
from bench.redeploy import RESULTS_DIR, write_env_file
from bench.refresh import RefreshLoop
from bench.release_table import render_releases
from bench.runner import SandboxPool, say
from bench.shaping import DELAYS, LINKS, ShapingError, apply_link
from tasks.images import resolve_base_image
from tasks.sandbox import Sandbox, SandboxError
from tasks.sandbox.droplet import KNOWN_HOSTS

KINDS = ("code", "restart-anyway", "rollback", "refused", "plain")
FIRST_PORT = 47800
LEAD_SECONDS = 1.0  # load before the release starts, and after it ends
MIN_RATE = 50.0
CRASH_TAIL = '\nCMD ["sh", "-c", "exit 1"]\n'


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.releases", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    links = [link for link in LINKS if link not in DELAYS]  # no relay here: rates only
    add("--links", default=",".join(links), help=f"comma list from {','.join(links)} (all)")
    add("--threads", type=int, default=8, help="load threads (8; raised if under 50 req/s)")
    add("--rate", type=float, default=80.0, help="requests/s the load aims at (80)")
    add("--out", type=Path, default=RESULTS_DIR, help="folder for the JSON (bench/results)")
    args = parser.parse_args(argv)
    args.links = [link.strip() for link in args.links.split(",") if link.strip()]
    if not args.links or set(args.links) - set(links):
        parser.error(f"--links: choose from {', '.join(links)}")
    return args


def backend_key(env_file: Path) -> str:
    for line in env_file.read_text().splitlines():
        if line.startswith("BACKEND_TO_DTMA_API_KEY="):
            return line.partition("=")[2]
    raise ValueError("no BACKEND_TO_DTMA_API_KEY in the env file")


def run_fab(box: Sandbox, args: list[str]) -> tuple[int, str, list[dict]]:
    """One fab command against `box`: exit code, its last stderr line, its deploy reports."""
    argv = [str(ours.FAB), "-H", box.host, "-i", str(box.key_path), *args]
    argv += ["--verify-url", box.agent_url, "--known-hosts", str(KNOWN_HOSTS)]
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as folder:
        done = subprocess.run(
            argv,
            cwd=PROJECT_DIR,
            env={**os.environ, "DTMA_DEPLOY_REPORTS_DIR": folder},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        reports = ours.read_reports(Path(folder))
    lines = (done.stderr.strip() or done.stdout.strip()).splitlines() or [""]
    return done.returncode, lines[-1][-300:], reports


class Releases:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.run_id = secrets.token_hex(3)
        self.pool = SandboxPool(f"bench-{self.run_id}-rel", FIRST_PORT)
        self.env_file = write_env_file(workdir)
        self.key = backend_key(self.env_file)
        self.threads = args.threads
        self.results: list[dict] = []
        self.images: set[str] = set()
        self.tag = f"bench-{self.run_id}-plain:latest"
        self.round = 0

    def deploy_args(self, context: Path, *extra: str) -> list[str]:
        return ["deploy", "--env-file", str(self.env_file), "--context", str(context), *extra]

    def calibrate(self, box: Sandbox) -> None:
        """Raise the threads until the load reaches MIN_RATE on this machine (3 s tries)."""
        while True:
            with LoadProbe(
                box.agent_url, key=self.key, threads=self.threads, rate=self.args.rate
            ) as load:
                time.sleep(3)
            rate = load.result.rate
            say(f"load: {self.threads} threads reach {rate:.0f} requests/s")
            if rate >= MIN_RATE * 1.1 or self.threads >= 32:
                return
            self.threads *= 2

    def under_load(self, box: Sandbox, link: str, kind: str, action, refresh=None) -> dict:
        """Run `action` (-> ok, detail, reports) while the load (and `refresh`) runs."""
        say(f"[{link}] {kind} ...")
        probe = LoadProbe(box.agent_url, key=self.key, threads=self.threads, rate=self.args.rate)
        with probe, refresh or contextlib.nullcontext():
            time.sleep(LEAD_SECONDS)
            started = time.monotonic()
            ok, detail, reports = action()
            wall = time.monotonic() - started
            time.sleep(LEAD_SECONDS)
        load = probe.result
        result = {
            "link": link,
            "kind": kind,
            "ok": ok,
            "detail": detail,
            "wall_seconds": round(wall, 3),
            "requests": load.requests,
            "rate": round(load.rate, 1),
            "threads": self.threads,
            "failed": len(load.failures),
            "failure_kinds": sorted({what for _, what in load.failures}),
            "longest_gap_seconds": round(load.longest_gap, 3),
            "half_sent_answered": load.slow_ok,
            "phases": reports[0].get("phases") if len(reports) == 1 else None,
            "bytes_sent": reports[0].get("bytes_sent") if len(reports) == 1 else None,
        }
        if refresh is not None:
            result["refresh"] = refresh.as_dict()
        for report in reports:
            if report.get("new_image"):
                self.images.add(str(report["new_image"]))
        say(f"[{link}] {kind}: {'ok' if ok else 'failed'}, {wall:.1f} s, {load.summary()}")
        self.results.append(result)
        return result

    def fab_action(self, box: Sandbox, args: list[str], expect_ok: bool = True):
        def action() -> tuple[bool, str, list[dict]]:
            code, last, reports = run_fab(box, args)
            return (code == 0) == expect_ok, f"exit {code}: {last}", reports

        return action

    def execute(self) -> None:
        contexts = {p: make_context(self.workdir / f"context-{p}") for p in ("ours", "plain")}
        crash = self.workdir / "context-crash"
        shutil.copytree(contexts["ours"], crash)
        (crash / "Dockerfile").write_text((crash / "Dockerfile").read_text() + CRASH_TAIL)
        base_image = resolve_base_image(None, docker.from_env(), quiet=True)
        box, plain_box = self.pool.up("ours"), self.pool.up("plain")
        plain = Baseline(plain_box, self.env_file, base_image, self.tag)
        plain.install_env()
        say("first deploys (unmeasured) ...")
        code, last, reports = run_fab(box, self.deploy_args(contexts["ours"]))
        if code != 0:
            raise StepFailed(f"first fab deploy failed: {last}")
        self.images.update(str(r["new_image"]) for r in reports if r.get("new_image"))
        plain.deploy(contexts["plain"])
        wait_for_health(plain_box.agent_url)
        self.calibrate(box)
        for link in self.args.links:
            for sandbox in (box, plain_box):
                apply_link(sandbox.name, link)
            self.one_link(link, box, plain_box, plain, contexts, crash)

    def one_link(self, link, box, plain_box, plain, contexts, crash) -> None:
        self.round += 1
        marker = f"{self.run_id} releases {link}"
        apply_change(contexts["ours"], "code", marker)
        refresh = RefreshLoop(box, self.key)
        self.under_load(
            box, link, "code", self.fab_action(box, self.deploy_args(contexts["ours"])), refresh
        )
        args = self.deploy_args(contexts["ours"], "--restart-anyway")
        self.under_load(box, link, "restart-anyway", self.fab_action(box, args))
        args = ["rollback", "--env-file", str(self.env_file)]
        self.under_load(box, link, "rollback", self.fab_action(box, args))
        args = self.deploy_args(crash, "--verify-timeout", "20")
        self.under_load(box, link, "refused", self.fab_action(box, args, expect_ok=False))
        apply_change(contexts["plain"], "code", marker)

        def plain_release() -> tuple[bool, str, list[dict]]:
            phases = plain.deploy(contexts["plain"])
            wait_for_health(plain_box.agent_url)
            return True, "", [{"phases": phases}]

        self.under_load(plain_box, link, "plain", plain_release)

    def remove_images(self) -> None:
        client = docker.from_env()
        for ref in {self.tag, *self.images} - {None}:
            with contextlib.suppress(docker.errors.DockerException):  # in use, or gone
                client.images.remove(ref, noprune=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, started_at = time.monotonic(), datetime.now(UTC)
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bench-releases-"))
    run = Releases(args, workdir)
    try:
        with run.pool.session():
            run.execute()
    except (SandboxError, StepFailed, ShapingError, docker.errors.DockerException) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except subprocess.SubprocessError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        run.remove_images()
    seconds = time.monotonic() - started
    print(render_releases(run.results))
    machine = {**machine_info(), "load_average_before": [round(x, 2) for x in load_before]}
    cores, load = machine["cores"], load_before[0]
    print(f"run took {seconds:.0f} s on {cores} cores (load average before {load:.2f})")
    document = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_seconds": round(seconds, 1),
        "machine": machine,
        "settings": {
            "links": args.links,
            "threads": run.threads,
            "rate_aimed": args.rate,
            "load": "LoadProbe: a fresh TCP connection per request (/health and /status "
            "alternating), to the droplet's public port; one thread sends in two halves",
            "lead_and_tail_seconds": LEAD_SECONDS,
        },
        "releases": run.results,
    }
    write_results(args.out, "releases-", started_at, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
