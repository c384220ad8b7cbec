"""Independent work side by side: over a link tens of milliseconds long each piece waits on the
host, not on this machine, so running them together costs the longest one, not the sum."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def at_once(*work: Callable[[], Any]) -> list[Any]:
    """Run every callable: the first in this thread (where a Ctrl-C lands, and is held around
    remote commands), the others in threads of their own. Waits for all of them, then returns
    their results in order, or raises the error of the first one, in the order given, that
    failed: the error the same work run one after the other would have raised first."""
    results: list[Any] = [None] * len(work)
    errors: list[Exception | None] = [None] * len(work)

    def run(index: int) -> None:
        try:
            results[index] = work[index]()
        except Exception as exc:  # raised below, once every piece has ended
            errors[index] = exc

    others = [
        threading.Thread(target=run, args=(index,), name=f"at-once-{index}", daemon=True)
        for index in range(1, len(work))
    ]
    for thread in others:
        thread.start()
    if work:
        run(0)  # a Ctrl-C is no Exception: it leaves at once, the others end on their own
    for thread in others:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results
