"""The refresh path during a release: the backend stand-in's refresh-status pressed in a loop.

The stand-in (tests/support/backend.py) does what the real Supabase function does: one
`GET /status` to the agent with the backend key, no retry; any failure comes back as HTTP 500.
Goal: not one 500 while a release hands over.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import requests

from tasks.sandbox import Sandbox
from tests.support.backend import BackendStandIn

TOOLBOX = "tb-bench"
PAUSE_SECONDS = 0.02  # between presses; each press waits for the agent's answer


class RefreshLoop:
    """`with RefreshLoop(box, key):` presses refresh-status until the block ends."""

    def __init__(self, box: Sandbox, key: str) -> None:
        self.backend = BackendStandIn(droplet_token="bench-unused", backend_key=key)
        self.backend.add_toolbox(TOOLBOX, agent_host="127.0.0.1", agent_port=box.http_port)
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # what the 500s said (no secrets in them)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        url = self.backend.refresh_url(TOOLBOX)
        headers = {"Authorization": f"Bearer {self.backend.user_jwt}"}
        while not self._stop.is_set():
            try:
                answer = requests.post(url, headers=headers, timeout=15)
                self.statuses[str(answer.status_code)] += 1
                if answer.status_code >= 500:
                    self.errors[str(answer.json().get("error", ""))[:120]] += 1
            except (requests.RequestException, ValueError) as exc:
                self.statuses[type(exc).__name__] += 1
            time.sleep(PAUSE_SECONDS)

    def __enter__(self) -> RefreshLoop:
        self.backend.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(20)
        self.backend.close()

    @property
    def presses(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("5"))

    def as_dict(self) -> dict:
        return {
            "presses": self.presses,
            "http_500s": self.server_errors,
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
        }
