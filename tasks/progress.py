"""The transfer meter: bytes sent / total, rate, time left.

On a terminal rich draws a live bar (at most 10 redraws a second, whatever paramiko's callback
rate); elsewhere (CI logs, pipes, tests reading fab's output) it stays quiet until `finish()`,
which prints one plain summary line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from tasks.units import human_bytes, human_duration


def format_figures(sent: int, total: int, elapsed: float) -> str:
    """'12.0 MB / 48.0 MB  25%  6.0 MB/s  ETA 6s' (the rate is the run's average)."""
    percent = 100 * sent // total if total else 100
    rate = sent / elapsed if elapsed > 0 else 0.0
    eta = human_duration((total - sent) / rate) if rate > 0 else "?"
    return (
        f"{human_bytes(sent)} / {human_bytes(total)}  {percent:3d}%  "
        f"{human_bytes(rate)}/s  ETA {eta}"
    )


def format_progress(label: str, sent: int, total: int, elapsed: float) -> str:
    return f"{label} {format_figures(sent, total, elapsed)}"


def format_summary(label: str, sent: int, elapsed: float) -> str:
    """'ship 48.0 MB in 8s (6.0 MB/s)' for logs and non-terminal runs."""
    rate = sent / elapsed if elapsed > 0 else 0.0
    return f"{label} {human_bytes(sent)} in {human_duration(elapsed)} ({human_bytes(rate)}/s)"


class TransferProgress:
    """Callback for paramiko's `putfo(callback=...)`."""

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
        self._clock = clock
        self._start = clock()
        self._last_draw = float("-inf")
        self._min_interval = min_interval
        self.sent = 0
        console = Console(file=self.stream, highlight=False)
        self.live = console.is_terminal and not console.is_dumb_terminal
        self._bar: Progress | None = None
        if self.live:
            # Redrawn by us, throttled: rich's own refresh thread would draw on its clock.
            self._bar = Progress(
                TextColumn(label),
                BarColumn(bar_width=20),
                TextColumn("{task.fields[figures]}"),
                console=console,
                auto_refresh=False,
            )
            self._task = self._bar.add_task(label, total=total, figures="")
            self._bar.start()

    def _draw(self, sent: int, total: int, elapsed: float) -> None:
        assert self._bar is not None
        figures = format_figures(sent, total, elapsed)
        self._bar.update(self._task, completed=sent, total=total, figures=figures)
        self._bar.refresh()

    def __call__(self, sent: int, total: int) -> None:
        self.sent = sent
        now = self._clock()
        if self._bar is not None and now - self._last_draw >= self._min_interval:
            self._last_draw = now
            self._draw(sent, total or self.total, now - self._start)

    def finish(self) -> None:
        """End the live bar, or print the one summary line."""
        elapsed = self._clock() - self._start
        if self._bar is not None:
            self._draw(self.sent, self.total, elapsed)
            self._bar.stop()
        else:
            self.stream.write(format_summary(self.label, self.sent, elapsed) + "\n")
        self.stream.flush()
