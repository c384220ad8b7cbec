"""The gate between the canaries and the hosts after them: those hosts get as far as a checked
candidate while the canaries run, and wait here before their release."""

from __future__ import annotations

import threading


class Gate:
    """Where the hosts after the canaries stop before their release while the canaries run:
    it opens once every canary passed, or shuts for good when the rollout stops first."""

    def __init__(self) -> None:
        self._decided = threading.Event()
        self._lock = threading.Lock()
        self._open = False

    def _decide(self, is_open: bool) -> None:
        with self._lock:
            if not self._decided.is_set():
                self._open = is_open
                self._decided.set()

    def open(self) -> None:
        self._decide(True)

    def shut(self) -> None:
        self._decide(False)

    def passed(self) -> bool:
        """Waits for the decision: True to go on, False to leave the host as it was."""
        self._decided.wait()
        return self._open
