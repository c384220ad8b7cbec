"""How figures are written for people: bytes in SI units, seconds, ratios."""

from __future__ import annotations

_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(value: float) -> str:
    """1000-based, so that "10 KB" in a goal means 10,000 bytes."""
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1000 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


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
