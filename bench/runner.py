"""Measuring one deploy: network counters before and after, a /health probe around it, the clock.

Both pipelines are measured by the same code: only `deploy` differs.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import ours
from bench.baseline import Baseline, StepFailed
from bench.contexts import apply_change
from bench.figures import Measurement
from bench.host import HealthProbe, count_ssh, read_counters, wait_for_health
from bench.stats import downtime
from bench.units import human_bytes
from tasks import sandbox as sandboxes
from tasks.sandbox import Sandbox

# The probe keeps watching this long after the deploy ends, to catch a late flap.
PROBE_TAIL_SECONDS = 0.5
_STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress, with the seconds since start, goes to stderr: stdout holds only the table."""
    print(f"{time.monotonic() - _STARTED:6.1f}s {message}", file=sys.stderr, flush=True)


@dataclass
class Target:
    """One pipeline, the droplet(s) it deploys to and its private build context."""

    pipeline: str
    sandboxes: list[Sandbox]
    context: Path
    deploy: Callable[[Target], tuple[dict[str, float], dict]]


def baseline_target(pipeline: Baseline, context: Path) -> Target:
    def deploy(target: Target) -> tuple[dict[str, float], dict]:
        pipeline.sandbox = target.sandboxes[0]  # it may be reached through a relay now
        return pipeline.deploy(target.context), {}

    return Target("baseline", [pipeline.sandbox], context, deploy)


def ours_target(hosts: list[Sandbox], env_file: Path, context: Path) -> Target:
    def deploy(target: Target) -> tuple[dict[str, float], dict]:
        reports = ours.deploy(target.sandboxes, env_file, target.context)
        phases = reports[0]["phases"] if len(reports) == 1 and reports[0].get("phases") else {}
        return phases, {"reports": reports}

    return Target("ours", hosts, context, deploy)


def measure(target: Target, case: str, round_no: int, marker: str, probe: bool) -> Measurement:
    """Change the context for `case`, deploy, and measure bytes, wall seconds and outage."""
    apply_change(target.context, case, marker)
    result = Measurement(case=case, pipeline=target.pipeline, round=round_no)
    before = [read_counters(s.name) for s in target.sandboxes]
    watch = HealthProbe(target.sandboxes[0].name) if probe else contextlib.nullcontext()
    with watch:
        started = time.monotonic()
        try:
            result.phases, result.details = target.deploy(target)
            healthy = max(wait_for_health(s.agent_url) for s in target.sandboxes)
            result.wall_seconds = healthy - started
        except (StepFailed, TimeoutError) as exc:
            result.error = str(exc)
        if probe:
            time.sleep(PROBE_TAIL_SECONDS)
    received = [read_counters(s.name) - b for s, b in zip(target.sandboxes, before, strict=True)]
    result.wire_bytes = sum(r.rx_bytes for r in received)
    if all(r.ssh_bytes is not None for r in received):
        result.ssh_bytes = sum(r.ssh_bytes or 0 for r in received)
    if isinstance(watch, HealthProbe):
        result.downtime = downtime(watch.timeline)
    return result


def describe(m: Measurement) -> str:
    if m.error is not None:
        return f"FAILED: {m.error}"
    text = f"{m.wall_seconds:.2f} s, {human_bytes(m.wire_bytes or 0)} received by the host"
    if m.downtime is not None:
        text += (
            f", longest outage {m.downtime.longest_gap_seconds:.2f} s "
            f"({m.downtime.failed_probes}/{m.downtime.probes} probes failed)"
        )
    return text


class SandboxPool:
    """Sandbox droplets named `<prefix>-<role>` on free loopback ports; all removed at the end."""

    def __init__(self, prefix: str, first_port: int, engine: str = "classic") -> None:
        self.prefix, self.next_port, self.engine = prefix, first_port, engine
        self.names: list[str] = []

    def _free_port(self) -> int:
        while not sandboxes.port_is_free(self.next_port):
            self.next_port += 1
        self.next_port += 1
        return self.next_port - 1

    def up(self, role: str, attempts: int = 3) -> Sandbox:
        """Start a droplet; a port taken between the check and `docker run` means other ports."""
        name = f"{self.prefix}-{role}"
        self.names.append(name)
        for attempt in range(1, attempts + 1):
            try:
                ports = self._free_port(), self._free_port()
                sandbox = sandboxes.up(name, *ports, engine=self.engine, quiet=True)
                break
            except sandboxes.SandboxError:
                sandboxes.down(name)
                if attempt == attempts:
                    raise
        count_ssh(name)
        return sandbox

    def down(self, sandbox: Sandbox) -> None:
        sandboxes.down(sandbox.name)
        self.names.remove(sandbox.name)

    @contextlib.contextmanager
    def session(self) -> Iterator[SandboxPool]:
        try:
            yield self
        finally:
            for name in list(self.names):
                with contextlib.suppress(Exception):  # removing the rest matters more
                    sandboxes.down(name)
            self.names.clear()


def run_rounds(
    targets: Sequence[Target], case: str, rounds: int, run_id: str, probe: bool, label: str
) -> list[Measurement]:
    """`rounds` rounds of `case`, the pipelines alternating within each round (A B A B ...)."""
    results = []
    for round_no in range(1, rounds + 1):
        for target in targets:
            say(f"[{label} {round_no}/{rounds}] {target.pipeline} ...")
            marker = f"{run_id} {case} {target.pipeline} {round_no}"
            m = measure(target, case, round_no, marker, probe)
            say(f"[{label} {round_no}/{rounds}] {target.pipeline}: {describe(m)}")
            results.append(m)
    return results
