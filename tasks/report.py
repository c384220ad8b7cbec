"""What a deploy did, for people (a table) and for machines (JSON, audit line). No secrets."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DeployReport:
    host: str
    version: str = ""
    outcome: str = "failed"
    started_at: float = field(default_factory=time.time)
    phases: dict[str, float] = field(default_factory=dict)
    old_image: str | None = None
    new_image: str | None = None
    bytes_sent: int = 0
    image_bytes: int = 0
    layers_total: int = 0
    layers_sent: int = 0
    full_transfer: bool = False
    fell_back: bool = False  # a partial archive was refused and the whole image sent
    env_sha256: str = ""
    verify: str = ""
    error: str | None = None

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time one step; recorded even when the step fails."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = round(time.monotonic() - started, 3)

    @property
    def total_seconds(self) -> float:
        return round(sum(self.phases.values()), 3)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_seconds": self.total_seconds}


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def render(report: DeployReport) -> str:
    """The table printed at the end of a deploy."""
    rows = [f"{name:<10} {seconds:>8.2f} s" for name, seconds in report.phases.items()]
    share = f" ({report.bytes_sent / report.image_bytes:.2%})" if report.image_bytes else ""
    lines = [
        f"deploy {report.host}: {report.outcome}",
        *rows,
        f"{'total':<10} {report.total_seconds:>8.2f} s",
        f"sent       {human_bytes(report.bytes_sent)} of {human_bytes(report.image_bytes)}{share}"
        + (" [full transfer]" if report.full_transfer else ""),
        f"layers     {report.layers_total - report.layers_sent} of {report.layers_total} reused",
        f"image      {report.old_image or '(none)'} -> {report.new_image or '(none)'}",
        f"verify     {report.verify or '-'}",
    ]
    if report.error:
        lines.append(f"error      {report.error}")
    return "\n".join(lines)


def file_name(host: str, started_at: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', host)}-{stamp}.json"


def write(report: DeployReport, folder: str | Path) -> Path:
    path = Path(folder) / file_name(report.host, report.started_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return path


def audit_line(report: DeployReport, deployed_by: str) -> str:
    """One JSON line for the host's /var/log/dtma-deploy.log."""
    keys = ("version", "outcome", "old_image", "new_image", "bytes_sent", "env_sha256", "error")
    data = {key: getattr(report, key) for key in keys}
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(report.started_at))
    return json.dumps({"at": at, "by": deployed_by, **data, "seconds": report.total_seconds})
