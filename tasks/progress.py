"""A one-line transfer progress meter: bytes sent / total, rate, time left."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def human_bytes(count: float) -> str:
    """1536 -> '1.5 KB' (powers of 1024, one decimal from KB up)."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def human_seconds(seconds: float) -> str:
    """75 -> '1m15s'; under a minute -> '9s'."""
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_progress(label: str, sent: int, total: int, elapsed: float) -> str:
    """'ship 12.0 MB / 48.0 MB  25%  6.0 MB/s  ETA 6s' (the rate is the run's average)."""
    percent = 100 * sent // total if total else 100
    rate = sent / elapsed if elapsed > 0 else 0.0
    eta = human_seconds((total - sent) / rate) if rate > 0 else "?"
    return (
        f"{label} {human_bytes(sent)} / {human_bytes(total)}  {percent:3d}%  "
        f"{human_bytes(rate)}/s  ETA {eta}"
    )


def format_summary(label: str, sent: int, elapsed: float) -> str:
    """'ship 48.0 MB in 8s (6.0 MB/s)' for logs and non-terminal runs."""
    rate = sent / elapsed if elapsed > 0 else 0.0
    return f"{label} {human_bytes(sent)} in {human_seconds(elapsed)} ({human_bytes(rate)}/s)"


class TransferProgress:
    """Callback for paramiko's `putfo(callback=...)`; redraws at most 10 times a second.

    On a terminal it redraws one line with `\\r`; elsewhere (CI logs, pipes) it stays quiet
    until `finish()`, which prints a single summary line.
    """

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        min_interval: float = 0.1,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self._clock = clock
        self._start = clock()
        self._last_draw = float("-inf")
        self._min_interval = min_interval
        self.sent = 0

    def __call__(self, sent: int, total: int) -> None:
        self.sent = sent
        now = self._clock()
        if self.live and now - self._last_draw >= self._min_interval:
            self._last_draw = now
            line = format_progress(self.label, sent, total or self.total, now - self._start)
            self.stream.write(f"\r{line}\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        """End the live line, or print the one summary line."""
        elapsed = self._clock() - self._start
        if self.live:
            line = format_progress(self.label, self.sent, self.total, elapsed)
            self.stream.write(f"\r{line}\x1b[K\n")
        else:
            self.stream.write(format_summary(self.label, self.sent, elapsed) + "\n")
        self.stream.flush()
