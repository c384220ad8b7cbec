"""How figures are written for people. One base for bytes everywhere: SI, 1000 (a "KB" in the
report, the transfer meter, an error message and the benchmark tables is 1,000 bytes)."""

from __future__ import annotations

_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(count: float) -> str:
    """2200 -> '2.2 KB'; whole bytes below 1000, one decimal from KB up."""
    size = float(count)
    for unit in _BYTE_UNITS:
        if abs(size) < 1000 or unit == _BYTE_UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """75 -> '1m15s'; under a minute -> '9s'."""
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
