"""The pure arithmetic of the benchmark: summaries, ratios and downtime from a probe timeline."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Summary:
    """Median and range of one figure over the measured rounds."""

    median: float
    min: float
    max: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(values: Sequence[float | None]) -> Summary | None:
    """Median, min and max of the values that were measured; None when none were."""
    measured = [float(v) for v in values if v is not None]
    if not measured:
        return None
    return Summary(statistics.median(measured), min(measured), max(measured), len(measured))


def ratio(baseline: float | None, ours: float | None) -> float | None:
    """baseline / ours: how many times more the baseline costs. None when it cannot be formed.

    An `ours` of exactly zero gives infinity (the baseline costs something, ours nothing).
    """
    if baseline is None or ours is None:
        return None
    if ours == 0:
        return float("inf") if baseline > 0 else None
    return baseline / ours


@dataclass(frozen=True)
class Probe:
    """One /health request: when it started (monotonic seconds) and whether it got a 200."""

    at: float
    ok: bool


@dataclass(frozen=True)
class Downtime:
    """What the probes saw: the longest run of failures in seconds, and how many failed."""

    longest_gap_seconds: float
    failed_probes: int
    probes: int

    def as_dict(self) -> dict:
        return asdict(self)


def downtime(timeline: Sequence[Probe]) -> Downtime:
    """The longest outage seen by a probe timeline.

    An outage starts at its first failed probe and ends at the next successful one; one that is
    still going at the end of the timeline ends at the last probe. A single failed probe between
    two successes therefore counts as the time between its start and the next success's start.
    """
    probes = sorted(timeline, key=lambda p: p.at)
    longest = 0.0
    outage_started: float | None = None
    for probe in probes:
        if not probe.ok and outage_started is None:
            outage_started = probe.at
        elif probe.ok and outage_started is not None:
            longest = max(longest, probe.at - outage_started)
            outage_started = None
    if outage_started is not None:
        longest = max(longest, probes[-1].at - outage_started)
    failed = sum(1 for p in probes if not p.ok)
    return Downtime(longest_gap_seconds=longest, failed_probes=failed, probes=len(probes))
