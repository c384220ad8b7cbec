"""Heartbeat to the backend: at start, then every interval; backs off on failure, never crashes.

It runs in its own daemon thread so blocking HTTP and Docker calls can never stall request
handling, and a receiver that hangs cannot hold up shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from dtma import metrics
from dtma.config import Settings
from dtma.errors import ApiError
from dtma.tool_views import heartbeat_status
from dtma.tools import REMOVED, ToolStore

log = logging.getLogger("dtma.heartbeat")
BACKOFF_CAP_SECONDS = 300.0


def next_delay(interval: float, failures: int, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds until the next beat: the interval, doubled per consecutive failure, capped."""
    if failures <= 0:
        return interval
    return min(max(cap, interval), interval * 2 ** min(failures, 32))


def request_timeout(interval: float) -> float:
    # A beat should never take longer than the interval between beats (bounded 1..10 s).
    return min(10.0, max(1.0, interval))


class Heartbeat:
    def __init__(self, settings: Settings, store: ToolStore, started: float) -> None:
        self.settings, self.store, self.started = settings, store, started
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.settings.api_base_url}/heartbeat"

    def start(self) -> None:
        needed = ("DTMA_BEARER_TOKEN", "AGENTOPIA_API_BASE_URL")
        unset = [name for name in needed if name in self.settings.missing]
        if unset:
            log.warning("heartbeat disabled: %s not set", ", ".join(unset))
            return
        self._thread = threading.Thread(target=self._run, name="dtma-heartbeat", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if self.beat_once():
                if failures:  # said once, so the log's last heartbeat line is true again
                    log.warning("heartbeat: the backend takes them again after %d missed", failures)
                failures = 0
            else:
                failures += 1
            delay = next_delay(self.settings.heartbeat_interval, failures)
            if failures:
                log.warning("heartbeat: %d failure(s) in a row, retry in %.0f s", failures, delay)
            if self._stop.wait(delay):
                return

    def payload(self) -> dict[str, Any]:
        system: dict[str, Any] = {"status": "healthy", **metrics.system_metrics()}
        system["dtma_uptime_seconds"] = round(time.monotonic() - self.started, 1)
        tool_statuses = []
        try:
            for instance in self.store.list_instances():
                if not instance["account_tool_instance_id"]:
                    continue
                details = self.store.runtime_details(instance)
                state = details["state_details"]["status"]
                if state == REMOVED:  # gone since the list: nothing to report
                    continue
                tool_statuses.append(
                    {
                        "account_tool_instance_id": instance["account_tool_instance_id"],
                        # From the same inspect as the details: the two never disagree.
                        "status_on_toolbox": heartbeat_status(state),
                        "runtime_details": details,
                    }
                )
        except ApiError as exc:
            system["status"], system["reason"] = "degraded", exc.message
        return {
            "dtma_version": self.settings.version,
            "system_status": system,
            "tool_statuses": tool_statuses,
        }

    def beat_once(self) -> bool:
        """Send one heartbeat; True when the backend accepted it. Never raises."""
        try:
            response = requests.post(
                self.url,
                json=self.payload(),
                headers={"Authorization": f"Bearer {self.settings.bearer_token}"},
                timeout=request_timeout(self.settings.heartbeat_interval),
            )
        except requests.RequestException as exc:
            log.warning("heartbeat to %s failed: %s", self.url, exc)
            return False
        except Exception:
            log.exception("heartbeat: unexpected error")
            return False
        if response.status_code == 401:
            log.error("heartbeat rejected (401): the backend does not know DTMA_BEARER_TOKEN")
        elif not response.ok:
            log.warning("heartbeat to %s answered %d", self.url, response.status_code)
        return response.ok
