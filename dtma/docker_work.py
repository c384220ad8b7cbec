"""Docker work off the event loop, in three bounded pools, so that `/health` never starves.

- pulls: a tool's image, fetched before its container is made. At most `pull_limit` at once
  (one more: 429 with `Retry-After`); a pull not done within `pull_deadline` is answered 504
  (Docker's own read timeout ends it later, its slot free only then). Pulls from a registry
  that never answers hold only these slots.
- slow: create, start, stop, delete. At most `slow_limit` at once; one more is refused at once
  with 429 and `Retry-After` instead of queueing.
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
PULL_LIMIT = 4
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


class BoundedPool:
    """A daemon pool whose jobs each hold a slot; no free slot is a 429 at once."""

    def __init__(self, name: str, limit: int, busy: str) -> None:
        self.limit, self.busy = limit, busy
        self._slots = threading.BoundedSemaphore(limit)
        self._pool = DaemonPool(name, limit)

    async def run(self, call: Callable[[], T]) -> T:
        if not self._slots.acquire(blocking=False):
            raise ApiError(
                429,
                f"{self.busy}; retry in {RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )

        def bounded() -> T:
            try:
                return call()
            finally:  # the slot is free when the work is done, not when the caller gives up
                self._slots.release()

        return await self._pool.run(bounded)


class DockerWork:
    def __init__(
        self,
        slow_limit: int = SLOW_LIMIT,
        quick_workers: int = QUICK_WORKERS,
        pull_limit: int = PULL_LIMIT,
        pull_deadline: float = 120.0,
    ) -> None:
        self.slow_limit, self.pull_deadline = slow_limit, pull_deadline
        busy = f"{slow_limit} Docker operations (creates, starts, stops, deletes) are already in "
        self._slow = BoundedPool("dtma-docker-slow", slow_limit, busy + "progress on this droplet")
        busy = f"{pull_limit} image pulls are already in progress on this droplet"
        self._pulls = BoundedPool("dtma-docker-pull", pull_limit, busy)
        self._quick = DaemonPool("dtma-docker-quick", quick_workers)

    async def quick(self, call: Callable[[], T]) -> T:
        return await self._quick.run(call)

    async def slow(self, call: Callable[[], T]) -> T:
        return await self._slow.run(call)

    async def pull(self, call: Callable[[], T]) -> T:
        try:
            return await asyncio.wait_for(self._pulls.run(call), self.pull_deadline)
        except TimeoutError:
            cause = f"the image pull did not finish within {self.pull_deadline:g} s"
            raise ApiError(504, f"{cause} (its registry is slow or does not answer)") from None
