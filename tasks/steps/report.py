"""report: what a deploy did, for people (a table), machines (JSON) and the host (audit line).
No secrets in any of them."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from tasks.units import human_bytes


@dataclass
class DeployReport:
    host: str
    version: str = ""
    outcome: str = "failed"
    started_at: float = field(default_factory=time.time)
    phases: dict[str, float] = field(default_factory=dict)
    exchanges: dict[str, int] = field(default_factory=dict)  # per step (runner.Remote says what)
    all_exchanges: int = 0  # the whole run's: the steps', the lock's and the audit line's
    old_image: str | None = None
    new_image: str | None = None
    bytes_sent: int = 0
    image_bytes: int = 0
    layers_total: int = 0
    layers_sent: int = 0
    full_transfer: bool = False
    fell_back: bool = False  # a partial archive was refused and the whole image sent
    pulled_from: str = ""  # with --registry: the digest reference the host pulled
    env_sha256: str = ""
    verify: str = ""
    error: str | None = None

    @contextmanager
    def phase(self, name: str, exchanges: Callable[[], int] | None = None) -> Iterator[None]:
        """Time one step (and count what `exchanges()` counts during it); recorded even when
        the step fails."""
        started, before = time.monotonic(), exchanges() if exchanges else 0
        try:
            yield
        finally:
            self.phases[name] = round(time.monotonic() - started, 3)
            if exchanges:
                self.exchanges[name] = self.exchanges.get(name, 0) + exchanges() - before

    @property
    def total_seconds(self) -> float:
        return round(sum(self.phases.values()), 3)

    @property
    def total_exchanges(self) -> int:
        return self.all_exchanges or sum(self.exchanges.values())

    def to_dict(self) -> dict[str, Any]:
        totals = {"total_seconds": self.total_seconds, "total_exchanges": self.total_exchanges}
        return {**asdict(self), **totals}


def summary_rows(report: DeployReport) -> list[tuple[str, str]]:
    """The lines under the timings: what travelled, what was reused, what runs now."""
    share = f" ({report.bytes_sent / report.image_bytes:.2%})" if report.image_bytes else ""
    sent = f"{human_bytes(report.bytes_sent)} of {human_bytes(report.image_bytes)}{share}"
    rows = [
        ("sent", sent + (" [full transfer]" if report.full_transfer else "")),
        *([("pulled", report.pulled_from)] if report.pulled_from else []),
        ("layers", f"{report.layers_total - report.layers_sent} of {report.layers_total} reused"),
        ("image", f"{report.old_image or '(none)'} -> {report.new_image or '(none)'}"),
        ("verify", report.verify or "-"),
    ]
    if report.error:
        rows.append(("error", report.error))
    return rows


def exchanges_said(report: DeployReport, step: str = "") -> str:
    """`  N exchanges` with the host in one step (or in all), "" when none were counted."""
    if not report.exchanges:
        return ""
    count = report.exchanges.get(step, 0) if step else report.total_exchanges
    return f"  {count:>3} exchange{'' if count == 1 else 's'}"


def render(report: DeployReport) -> str:
    """The plain table printed at the end of a deploy (logs, pipes, CI)."""
    lines = [
        f"deploy {report.host}: {report.outcome}",
        *(
            f"{name:<10} {seconds:>8.2f} s{exchanges_said(report, name)}"
            for name, seconds in report.phases.items()
        ),
        f"{'total':<10} {report.total_seconds:>8.2f} s{exchanges_said(report)}",
        *(f"{name:<10} {value}" for name, value in summary_rows(report)),
    ]
    return "\n".join(lines)


def show(report: DeployReport, stream: TextIO | None = None) -> None:
    """Print the report: a rich table on a terminal, the plain lines of render() elsewhere."""
    console = Console(file=stream or sys.stdout, highlight=False)
    if not console.is_terminal:
        console.file.write(render(report) + "\n")
        console.file.flush()
        return
    table = Table(title=f"deploy {report.host}: {report.outcome}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for name, seconds in report.phases.items():
        table.add_row(name, f"{seconds:.2f} s{exchanges_said(report, name)}")
    total = f"{report.total_seconds:.2f} s{exchanges_said(report)}"
    table.add_row("total", total, end_section=True)
    for name, value in summary_rows(report):
        table.add_row(name, value)
    console.print(table)


def file_name(host: str, started_at: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', host)}-{stamp}.json"


def write(report: DeployReport, folder: str | Path) -> Path:
    path = Path(folder) / file_name(report.host, report.started_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return path


@dataclass
class FleetReport:
    """A fleet run: the rollout's settings, one record per host (with its deploy report), the
    total time. Written as reports/fleet-<time>.json beside each host's own report."""

    source: str
    shape: dict[str, Any]
    started_at: float = field(default_factory=time.time)
    outcome: str = "failed"
    interrupted: bool = False
    total_seconds: float = 0.0
    rollback_seconds: float = 0.0  # rollback-all, from its start to the last host verified
    hosts: list[dict[str, Any]] = field(default_factory=list)
    host_logs: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_fleet(report: FleetReport, folder: str | Path) -> Path:
    path = Path(folder) / file_name("fleet", report.started_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return path


def audit_line(report: DeployReport, deployed_by: str) -> str:
    """One JSON line for the host's /var/log/dtma-deploy.log."""
    keys = ("version", "outcome", "old_image", "new_image", "bytes_sent", "env_sha256", "error")
    data = {key: getattr(report, key) for key in keys}
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(report.started_at))
    return json.dumps({"at": at, "by": deployed_by, **data, "seconds": report.total_seconds})
