"""Waiting for something to become ready: one generous deadline, short polls, and every failure
on the way means "not yet". The only place the tests, the smoke suite's tests and the benchmarks
wait for a server to answer.

Why these numbers: the agent opens its port before its web stack has loaded, so an early request
is accepted and then waits for the import (1.3-1.8 s on an idle 2-core machine here, several
seconds with a core kept busy); a droplet that reboots takes over ten seconds. A short per-request
timeout turns that wait into a failure, so the request timeout is long and the deadline longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests

DEADLINE_SECONDS = 120.0
POLL_SECONDS = 0.05
REQUEST_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


class NotReady(AssertionError):
    """The deadline passed (or the thing waited for died) before it was ready."""


def wait_until(
    check: Callable[[], T | None],
    what: str,
    *,
    deadline: float = DEADLINE_SECONDS,
    poll: float = POLL_SECONDS,
    gave_up: Callable[[], str | None] = lambda: None,
) -> T:
    """Call `check` until it returns something other than None/False and return that.

    `gave_up` says why waiting longer is pointless (a process that exited), or None to go on.
    """
    end = time.monotonic() + deadline
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        reason = gave_up()
        if reason:
            raise NotReady(f"{what}: gave up: {reason}")
        if time.monotonic() >= end:
            raise NotReady(f"{what} did not happen within {deadline:.0f} s")
        time.sleep(poll)


def answer(url: str, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> requests.Response | None:
    """GET `url`, or None for any failure to get an answer (refused, reset, timed out...)."""
    try:
        return requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None


def wait_until_healthy(
    url: str,
    *,
    path: str = "/health",
    deadline: float = DEADLINE_SECONDS,
    request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    gave_up: Callable[[], str | None] = lambda: None,
) -> float:
    """Poll `url + path` until it answers 200; return the monotonic time of that answer."""
    last: list[str] = ["no answer yet"]

    def healthy() -> float | None:
        response = answer(f"{url}{path}", timeout=request_timeout)
        if response is None:
            last[0] = "no answer"
            return None
        last[0] = f"HTTP {response.status_code}"
        return time.monotonic() if response.status_code == 200 else None

    try:
        return wait_until(healthy, f"{url}{path} answering 200", deadline=deadline, gave_up=gave_up)
    except NotReady as exc:
        raise NotReady(f"{exc} (last: {last[0]})") from None
