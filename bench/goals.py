"""The issue's goals, judged from the summaries: met, missed by how much, or not measured."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace

from bench.figures import CaseSummary
from bench.units import human_bytes

CODE_BYTES_FRACTION = 1 / 1000
CODE_WALL_FRACTION = 1 / 5
MAX_OUTAGE_SECONDS = 1.0
NO_CHANGE_MAX_BYTES = 10_000
NO_CHANGE_MAX_SECONDS = 1.0
REDEPLOY_CASES = ("code", "deps", "nochange")


@dataclass(frozen=True)
class GoalResult:
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run
    verdict: str

    def as_dict(self) -> dict:
        return asdict(self)

    def on_link(self, link: str) -> GoalResult:
        """The same result, its goal naming the link it was measured on."""
        return replace(self, goal=f"{link}: {self.goal}")


def _not_measured(goal: str, why: str) -> GoalResult:
    return GoalResult(goal, "-", None, f"not measured ({why})")


def _fraction_goal(
    goal: str,
    case: CaseSummary | None,
    metric: str,
    fraction: float,
    show: Callable[[float], str],
) -> GoalResult:
    if case is None:
        return _not_measured(goal, "case not run")
    baseline, ours = case.median("baseline", metric), case.median("ours", metric)
    if baseline is None or ours is None:
        return _not_measured(goal, "no successful rounds for both pipelines")
    budget = baseline * fraction
    measured = f"ours {show(ours)} vs baseline {show(baseline)} (median): {share(ours, baseline)}"
    if ours <= budget:
        return GoalResult(goal, measured, True, "met")
    return GoalResult(
        goal, measured, False, f"missed by {show(ours - budget)} (budget {show(budget)})"
    )


def share(ours: float, baseline: float) -> str:
    """How ours compares: "1/1,024 of the baseline", "2.25x the baseline"."""
    if ours == 0:
        return "nothing, against the baseline's something"
    if ours >= baseline:
        return f"{ours / baseline:.2f}x the baseline"
    times = baseline / ours
    return f"1/{times:,.0f} of the baseline" if times >= 100 else f"1/{times:.1f} of the baseline"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def judge(cases: Mapping[str, CaseSummary]) -> list[GoalResult]:
    """Every goal of the issue, in the order the issue lists them."""
    results = [
        _fraction_goal(
            "code-only change: bytes <= 1/1000 of baseline",
            cases.get("code"),
            "wire_bytes",
            CODE_BYTES_FRACTION,
            human_bytes,
        ),
        _fraction_goal(
            "code-only change: wall <= 1/5 of baseline",
            cases.get("code"),
            "wall_seconds",
            CODE_WALL_FRACTION,
            _seconds,
        ),
    ]
    goal = f"downtime: longest outage <= {MAX_OUTAGE_SECONDS:.1f} s (worst redeploy round, ours)"
    worst = [
        (cases[name].maximum("ours", "downtime_seconds"), name)
        for name in REDEPLOY_CASES
        if name in cases and cases[name].maximum("ours", "downtime_seconds") is not None
    ]
    if not worst:
        results.append(_not_measured(goal, "no redeploy case with probes"))
    else:
        seconds, name = max(worst)
        measured = f"{seconds:.2f} s (case {name})"
        if seconds <= MAX_OUTAGE_SECONDS:
            results.append(GoalResult(goal, measured, True, "met"))
        else:
            over = seconds - MAX_OUTAGE_SECONDS
            results.append(GoalResult(goal, measured, False, f"missed by {over:.2f} s"))
    goal = f"no-change redeploy: <= {human_bytes(NO_CHANGE_MAX_BYTES)} on the wire (median, ours)"
    case = cases.get("nochange")
    sent = None if case is None else case.median("ours", "wire_bytes")
    if sent is None:
        results.append(_not_measured(goal, "case not run" if case is None else "no ours rounds"))
    elif sent <= NO_CHANGE_MAX_BYTES:
        results.append(GoalResult(goal, human_bytes(sent), True, "met"))
    else:
        over = human_bytes(sent - NO_CHANGE_MAX_BYTES)
        results.append(GoalResult(goal, human_bytes(sent), False, f"missed by {over}"))
    return results


def judge_nochange_wall(cases: Mapping[str, CaseSummary]) -> GoalResult:
    """The issue's later goal: a no-change deploy finishes in under a second."""
    goal = f"no-change redeploy: under {NO_CHANGE_MAX_SECONDS:.0f} s wall (median, ours)"
    case = cases.get("nochange")
    took = None if case is None else case.median("ours", "wall_seconds")
    if took is None:
        return _not_measured(goal, "case not run" if case is None else "no ours rounds")
    if took < NO_CHANGE_MAX_SECONDS:
        return GoalResult(goal, _seconds(took), True, "met")
    over = _seconds(took - NO_CHANGE_MAX_SECONDS)
    return GoalResult(goal, _seconds(took), False, f"missed by {over}")
