"""Ctrl-C held back while work that must not stop half-way runs (a remote command, the switch
from one agent to the next), then raised once that work is done.

A KeyboardInterrupt can land between any two bytecodes: in the middle of opening an SSH
channel, of a port check through a tunnel, or between the promotion of the new agent and the
stop of the old one. Held here, the first Ctrl-C is noted and said; the work in the hold runs
to its end and the interrupt is raised as it ends. A second Ctrl-C raises at once: it cuts what
runs (Fabric drops the remote command's channel).

Only the main thread gets signals: elsewhere (the fleet's host threads, whose Ctrl-C the fleet
notes itself) a hold does nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class _Hold:
    active = False  # a hold is open: holds opened inside it add nothing
    noted = False  # a first Ctrl-C came during it


_hold = _Hold()


@contextmanager
def held(what: str) -> Iterator[None]:
    """Hold Ctrl-C while the block runs; `what` names the work for the one line said. If the
    block fails, its error goes on (the run stops either way)."""
    if (
        _hold.active
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        yield
        return

    def note(signum: int, frame: object) -> None:
        if _hold.noted:  # the second one: cut what runs
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        _hold.noted = True
        # Landed inside another write to stdout: the line is lost, not the hold.
        with suppress(RuntimeError):
            print(f"interrupted: finishing {what} (Ctrl-C again cuts it)", flush=True)

    previous = signal.signal(signal.SIGINT, note)
    _hold.active, _hold.noted = True, False
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        noted, _hold.active, _hold.noted = _hold.noted, False, False
    if noted:
        raise KeyboardInterrupt
