"""Docker work off the event loop, in two bounded pools, so that `/health` never starves.

- slow: pulls, create, start, stop, delete. At most `slow_limit` at once; one more is refused at
  once with 429 and `Retry-After` instead of queueing behind pulls that may hang for minutes.
- quick: list and inspect (each bounded by the client's 5 s timeout), for `/status` and
  `GET /tools`; they never wait behind slow work.

`/health` runs on the event loop itself and needs neither. The workers are daemon threads: a
pull stuck on a registry that never answers cannot hold up the process's exit on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from dtma.errors import ApiError

T = TypeVar("T")
SLOW_LIMIT = 8
QUICK_WORKERS = 4
RETRY_AFTER_SECONDS = 5

Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the caller went away (client disconnected)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DaemonPool:
    """A fixed number of daemon worker threads taking jobs from one queue."""

    def __init__(self, name: str, workers: int) -> None:
        self.name, self.workers = name, workers
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            for number in range(self.workers):
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{number}", daemon=True
                )
                thread.start()
            self._started = True

    def _work(self) -> None:
        while True:
            call, loop, future = self._jobs.get()
            result, error = None, None
            try:
                result = call()
            except BaseException as exc:  # handed to the awaiting request, raised there
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
                loop.call_soon_threadsafe(_settle, future, result, error)

    async def run(self, call: Callable[[], T]) -> T:
        self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((call, loop, future))
        return await future


class DockerWork:
    def __init__(self, slow_limit: int = SLOW_LIMIT, quick_workers: int = QUICK_WORKERS) -> None:
        self.slow_limit = slow_limit
        self._slots = threading.BoundedSemaphore(slow_limit)
        self._slow = DaemonPool("dtma-docker-slow", slow_limit)
        self._quick = DaemonPool("dtma-docker-quick", quick_workers)

    async def quick(self, call: Callable[[], T]) -> T:
        return await self._quick.run(call)

    async def slow(self, call: Callable[[], T]) -> T:
        if not self._slots.acquire(blocking=False):
            raise ApiError(
                429,
                f"{self.slow_limit} Docker operations (pulls, starts, stops) are already in "
                f"progress on this droplet; retry in {RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )

        def bounded() -> T:
            try:
                return call()
            finally:  # the slot is free when the work is done, not when the caller gives up
                self._slots.release()

        return await self._slow.run(bounded)
