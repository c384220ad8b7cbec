"""Output that scales: while a fleet runs, each host's output goes to its own log file, and
only its step lines (`HOST: step`) reach the terminal, one line each, as they happen.

The single-host deploy prints its steps, its report table and its errors on stdout; run in
threads side by side those would interleave. `HostStreams` stands in for sys.stdout and
sys.stderr for the run and sends what a host's thread writes to that host's sink.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def log_name(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", host) + ".log"


class HostSink:
    """One host's output: every line to its log, lines naming the host to the console too."""

    def __init__(self, prefix: str, log: TextIO, echo: HostStreams) -> None:
        self.prefix, self.log, self.echo = prefix, log, echo
        self.partial = ""

    def write(self, text: str) -> None:
        self.log.write(text)
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            if line.startswith(self.prefix):
                self.echo.say(line)

    def close(self) -> None:
        if self.partial:
            self.write("\n")
        self.log.close()


class HostStreams:
    """A stand-in for sys.stdout/sys.stderr: host threads write to their sink, every other
    thread to the real stream."""

    def __init__(self, console: TextIO, folder: Path) -> None:
        self.console, self.folder = console, folder
        self._local = threading.local()
        self._lock = threading.Lock()
        self.encoding = getattr(console, "encoding", "utf-8")

    def say(self, line: str) -> None:
        with self._lock:
            self.console.write(line + "\n")
            self.console.flush()

    def write(self, text: str) -> int:
        sink = getattr(self._local, "sink", None)
        if sink is None:
            with self._lock:
                self.console.write(text)
        else:
            sink.write(text)
        return len(text)

    def flush(self) -> None:
        if getattr(self._local, "sink", None) is None:
            self.console.flush()

    def isatty(self) -> bool:
        return False  # a host's report table is plain text in its log

    @contextmanager
    def for_host(self, host: str, prefix: str) -> Iterator[Path]:
        """This thread writes to `host`'s log; lines starting with `prefix: ` are echoed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / log_name(host)
        sink = HostSink(f"{prefix}: ", path.open("a", encoding="utf-8"), self)
        self._local.sink = sink
        try:
            yield path
        finally:
            self._local.sink = None
            sink.close()


@contextmanager
def routed(folder: Path) -> Iterator[HostStreams]:
    """Install the stand-in on sys.stdout and sys.stderr for the block."""
    stdout, stderr = sys.stdout, sys.stderr
    streams = HostStreams(stdout, folder)
    err = HostStreams(stderr, folder)
    err._local = streams._local  # one sink per thread, whichever stream it writes to
    err._lock = streams._lock
    sys.stdout, sys.stderr = streams, err  # type: ignore[assignment]
    try:
        yield streams
    finally:
        sys.stdout, sys.stderr = stdout, stderr
