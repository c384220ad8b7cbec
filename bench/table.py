"""The stdout table: one block per case, one row per figure, both pipelines side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from bench.figures import METRICS, CaseSummary
from bench.goals import GoalResult
from bench.shaping import LINK_TITLES
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
        case_name, _, link = name.partition("@")
        where = f" at {LINK_TITLES.get(link, link)}" if link else ""
        title = f"{CASE_TITLES.get(case_name, name)}{where}: {rounds} round{'s' * (rounds != 1)}"
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


def render_links(cases: Mapping[str, CaseSummary], links: Sequence[str]) -> str:
    """Loopback and the shaped link side by side: medians of fab and the plain path."""
    header = ("case", "link", "wall plain/fab", "fab/plain", "bytes plain/fab", "fab/plain")
    rows = [header]
    for name in ("code", "deps", "nochange"):
        for link in links:
            case = cases.get(name if link == "loopback" else f"{name}@{link}")
            if case is None:
                continue
            cells = [name, LINK_TITLES.get(link, link)]
            for metric, show in (("wall_seconds", human_seconds), ("wire_bytes", human_bytes)):
                plain, fab = case.median("baseline", metric), case.median("ours", metric)
                shown = [show(v) if v is not None else "-" for v in (plain, fab)]
                cells += [" / ".join(shown), _fraction(fab, plain)]
            rows.append(tuple(cells))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    out = [
        "loopback vs shaped link (medians; targets: code fab/plain wall <= 1/5, bytes <= 1/1000)"
    ]
    out += [
        ("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
        for r in rows
    ]
    return "\n".join(out)


def _fraction(fab: float | None, plain: float | None) -> str:
    if fab is None or not plain:
        return "-"
    if fab == 0:
        return "0"
    return f"1/{plain / fab:,.0f}" if plain / fab >= 10 else f"{fab / plain:.2f}"
