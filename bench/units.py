"""How figures are written for people: bytes in SI units, seconds, ratios."""

from __future__ import annotations

# One byte formatter for the whole project (SI, 1000): the bench's tables and goals say "KB"
# exactly as the deploy's report does.
from tasks.units import human_bytes

__all__ = ["human_bytes", "human_count", "human_ratio", "human_seconds"]


def human_seconds(value: float) -> str:
    return f"{value:.2f} s"


def human_count(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def human_ratio(value: float | None) -> str:
    """baseline/ours, e.g. "71,234x"; "inf" when ours cost nothing, "-" when unknown."""
    if value is None:
        return "-"
    if value == float("inf"):
        return "inf"
    return f"{value:,.0f}x" if value >= 100 else f"{value:.2f}x"
