"""What one deploy measured, and the per-case summaries the table and the JSON are made of."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.stats import Downtime, Summary, ratio, summarize

PIPELINES = ("baseline", "ours")


@dataclass
class Measurement:
    """One deploy by one pipeline in one round of one case."""

    case: str
    pipeline: str
    round: int
    wall_seconds: float | None = None
    # Received by the target host's network interface during the deploy (all protocols).
    wire_bytes: int | None = None
    # Of those, the bytes of SSH (port 22): the rest is mostly HTTP to the agent (health checks).
    ssh_bytes: int | None = None
    downtime: Downtime | None = None
    phases: dict[str, float] = field(default_factory=dict)
    # What the pipeline itself reported (for ours: bytes_sent, layers sent of total, ...).
    details: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def downtime_seconds(self) -> float | None:
        return None if self.downtime is None else self.downtime.longest_gap_seconds

    @property
    def failed_probes(self) -> int | None:
        return None if self.downtime is None else self.downtime.failed_probes

    def as_dict(self) -> dict:
        return {
            "case": self.case,
            "pipeline": self.pipeline,
            "round": self.round,
            "wall_seconds": self.wall_seconds,
            "wire_bytes": self.wire_bytes,
            "ssh_bytes": self.ssh_bytes,
            "downtime": None if self.downtime is None else self.downtime.as_dict(),
            "phases": self.phases,
            "details": self.details,
            "error": self.error,
        }


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    read: Callable[[Measurement], float | None]


METRICS = (
    Metric("wire_bytes", "bytes on the wire", lambda m: m.wire_bytes),
    Metric("ssh_bytes", "  of which SSH", lambda m: m.ssh_bytes),
    Metric("wall_seconds", "wall seconds", lambda m: m.wall_seconds),
    Metric("downtime_seconds", "longest outage s", lambda m: m.downtime_seconds),
    Metric("failed_probes", "failed probes", lambda m: m.failed_probes),
)


@dataclass(frozen=True)
class CaseSummary:
    """Per pipeline and metric: the summary of the successful rounds; ratios of the medians."""

    case: str
    summaries: dict[str, dict[str, Summary | None]]
    ratios: dict[str, float | None]
    errors: dict[str, list[str]]
    # Median seconds of each step the pipeline reported (build, ship, verify, ...).
    phases: dict[str, dict[str, float]]

    def median(self, pipeline: str, metric: str) -> float | None:
        summary = self.summaries.get(pipeline, {}).get(metric)
        return None if summary is None else summary.median

    def maximum(self, pipeline: str, metric: str) -> float | None:
        summary = self.summaries.get(pipeline, {}).get(metric)
        return None if summary is None else summary.max

    def as_dict(self) -> dict:
        return {
            "summary": {
                pipeline: {k: None if s is None else s.as_dict() for k, s in metrics.items()}
                for pipeline, metrics in self.summaries.items()
            },
            "ratios_baseline_over_ours": {
                k: None if r is None or r == float("inf") else r for k, r in self.ratios.items()
            },
            "phase_medians_seconds": self.phases,
            "errors": self.errors,
        }


def summarize_case(case: str, measurements: Sequence[Measurement]) -> CaseSummary:
    """Summaries over the rounds that succeeded (failed rounds are listed, never averaged in)."""
    summaries: dict[str, dict[str, Summary | None]] = {}
    errors: dict[str, list[str]] = {}
    phases: dict[str, dict[str, float]] = {}
    for pipeline in PIPELINES:
        rounds = [m for m in measurements if m.case == case and m.pipeline == pipeline]
        good = [m for m in rounds if m.error is None]
        summaries[pipeline] = {
            metric.key: summarize([metric.read(m) for m in good]) for metric in METRICS
        }
        errors[pipeline] = [f"round {m.round}: {m.error}" for m in rounds if m.error is not None]
        phases[pipeline] = phase_medians(good)
    ratios = {
        metric.key: ratio(
            _median(summaries["baseline"][metric.key]), _median(summaries["ours"][metric.key])
        )
        for metric in METRICS
    }
    return CaseSummary(case, summaries, ratios, errors, phases)


def phase_medians(measurements: Sequence[Measurement]) -> dict[str, float]:
    """Per step, in the order the pipeline ran them: the median seconds over the rounds."""
    names = dict.fromkeys(name for m in measurements for name in m.phases)
    return {
        name: round(statistics.median(m.phases[name] for m in measurements if name in m.phases), 3)
        for name in names
    }


def _median(summary: Summary | None) -> float | None:
    return None if summary is None else summary.median
