"""The stdout table: one block per case, one row per figure, both pipelines side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from bench.figures import METRICS, CaseSummary
from bench.goals import GoalResult
from bench.stats import Summary
from bench.units import human_bytes, human_count, human_ratio, human_seconds

CASE_TITLES = {
    "code": "code-only change (one line in dtma/)",
    "deps": "dependency change (dtma/requirements.txt)",
    "cold": "cold first deploy to an empty host",
    "nochange": "no change (redeploy of the same image)",
}
SHOW: dict[str, Callable[[float], str]] = {
    "wire_bytes": human_bytes,
    "ssh_bytes": human_bytes,
    "wall_seconds": human_seconds,
    "downtime_seconds": human_seconds,
    "failed_probes": human_count,
}
HEADER = ("figure", "baseline median [min-max]", "ours median [min-max]", "baseline/ours")


def cell(summary: Summary | None, show: Callable[[float], str], missing: str = "-") -> str:
    if summary is None:
        return missing
    if summary.n == 1:
        return show(summary.median)
    return f"{show(summary.median)} [{show(summary.min)}-{show(summary.max)}]"


def case_rows(case: CaseSummary, ours_missing: str = "-") -> list[tuple[str, str, str, str]]:
    rows = []
    for metric in METRICS:
        show = SHOW[metric.key]
        baseline = case.summaries["baseline"][metric.key]
        ours = case.summaries["ours"][metric.key]
        if baseline is None and ours is None:
            continue  # e.g. no probes on a cold deploy: there was nothing to be down
        rows.append(
            (
                metric.label,
                cell(baseline, show),
                cell(ours, show, ours_missing),
                human_ratio(case.ratios[metric.key]),
            )
        )
    return rows


def render_cases(cases: Mapping[str, CaseSummary], ours_missing: str = "-") -> str:
    """All case blocks with aligned columns; `ours_missing` fills an ours cell with no figure."""
    blocks: list[tuple[str, list[tuple[str, str, str, str]]]] = []
    for name, case in cases.items():
        rounds = max(
            (s.n for metrics in case.summaries.values() for s in metrics.values() if s),
            default=0,
        )
        title = f"{CASE_TITLES.get(name, name)}: {rounds} round{'s' * (rounds != 1)}"
        blocks.append((title, case_rows(case, ours_missing)))
    everything = [HEADER, *(row for _, rows in blocks for row in rows)]
    widths = [max(len(row[i]) for row in everything) for i in range(len(HEADER))]

    def line(row: Sequence[str]) -> str:
        cells = (text.ljust(width) for text, width in zip(row, widths, strict=True))
        return ("  " + "  ".join(cells)).rstrip()

    out = [line(HEADER)]
    for name, (title, rows) in zip(cases, blocks, strict=True):
        out.append(title)
        out.extend(line(row) for row in rows)
        for pipeline, steps in cases[name].phases.items():
            if steps:
                shown = ", ".join(f"{step} {seconds:.1f}" for step, seconds in steps.items())
                out.append(f"    {pipeline} steps (median s): {shown}")
        for pipeline, errors in cases[name].errors.items():
            out.extend(f"  ! {pipeline} {error}" for error in errors)
    return "\n".join(out)


def render_goals(goals: Sequence[GoalResult]) -> str:
    lines = ["goals:"]
    for goal in goals:
        mark = {True: "MET", False: "MISSED", None: "----"}[goal.met]
        lines.append(f"  [{mark}] {goal.goal}: {goal.measured} -> {goal.verdict}")
    return "\n".join(lines)
