"""uvicorn's server with the two things a zero-downtime handover needs.

1. A two-phase stop. On SIGTERM (or SIGINT) the listening sockets close at once, so new
   connections go to the other release listening on the same port (SO_REUSEPORT; with
   net.ipv4.tcp_migrate_req=1 even those waiting in this socket's queue move over); connections
   already accepted are served for `drain_grace` seconds (less once none is left); then
   uvicorn's graceful shutdown, which finishes requests in flight (bounded). uvicorn alone
   would close at once every connection whose request it has not parsed yet: a client that
   connected just before SIGTERM, one request per connection, got no answer.
2. Handover mode (`handover` given): the server starts on the check port only, and opens the
   public port once the real app is loaded AND the release is promoted (see dtma.promotion);
   a port still held by something that does not share it is retried every 50 ms for up to
   60 s. Once the public port listens, the check listener closes (connections on it finish).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn

from dtma.bootstrap import DeferredApp
from dtma.healthcheck import record_serving_port
from dtma.listeners import BACKLOG, try_listen_public
from dtma.promotion import Promotion, StartVerdict, start_verdict, step_aside

log = logging.getLogger("dtma")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
BIND_RETRY_SECONDS = 0.05
BIND_RETRY_FOR_SECONDS = 60.0
# How often a drain looks for connections left; the first look comes after the accepted ones
# attached to the server (close_servers) and their protocols started.
DRAIN_POLL_SECONDS = 0.05


async def close_servers(servers: list[asyncio.base_events.Server]) -> None:
    """Stop accepting on `servers` without dropping a connection already accepted.

    asyncio accepts a tick's connections in one callback and attaches each to its Server in a
    task of its own; a Server closed in between refuses them (an assertion, reported only in
    debug mode) and each such socket is reset when collected: a client that connected at the
    moment of a SIGTERM got "connection reset". So: stop watching the listeners, let those tasks
    attach, then close (with tcp_migrate_req the connections still queued move to the other
    release)."""
    loop = asyncio.get_running_loop()
    for server in servers:
        for sock in server.sockets:
            loop.remove_reader(sock.fileno())
    await asyncio.sleep(0)  # the attach tasks were queued before this task's wake-up
    for server in servers:
        server.close()


@dataclass
class Handover:
    """What handover mode needs: the public port, the promotion state, the start-time check."""

    public_port: int
    promotion: Promotion
    start_verdict: Callable[[], StartVerdict] = start_verdict
    step_aside: Callable[[StartVerdict], str] = step_aside
    bind_retry_for: float = BIND_RETRY_FOR_SECONDS


class AgentServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        app: DeferredApp,
        drain_grace: float,
        handover: Handover | None = None,
    ) -> None:
        super().__init__(config)
        self.app, self.drain_grace, self.handover = app, drain_grace, handover
        self.exit_code = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)
        if self.handover is not None and self.started and not self.should_exit:
            self._spawn(self._publish_when_ready(self.handover, list(self.servers)))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handover failed: exiting 1", exc_info=task.exception())
            self._stop(1)

    def _stop(self, exit_code: int) -> None:
        self.exit_code = max(self.exit_code, exit_code)
        self.should_exit = True

    # ---- two-phase stop -------------------------------------------------------------------

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig not in STOP_SIGNALS or self._draining or self._loop is None or not self.started:
            return super().handle_exit(sig, frame)  # a second signal: uvicorn's own stop
        self._draining = True
        self._captured_signals.append(sig)  # re-raised after the stop, as uvicorn does
        self._loop.call_soon_threadsafe(self._close_listeners, sig)

    def _close_listeners(self, sig: int) -> None:
        for task in list(self._tasks):
            task.cancel()  # a release told to stop does not take the public port any more
        self._spawn(close_servers(list(self.servers)))
        log.info(
            "%s: listeners closed; serving accepted connections for up to %.2f s, then stopping",
            signal.Signals(sig).name,
            self.drain_grace,
        )
        self._spawn(self._drain())

    async def _drain(self) -> None:
        """Serve the connections already accepted for `drain_grace` s, or less: once none is
        left, none can come (the listeners are closed), and the stop need not wait."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.drain_grace
        while loop.time() < until:
            await asyncio.sleep(min(DRAIN_POLL_SECONDS, max(0.0, until - loop.time())))
            if not self.server_state.connections:
                log.info("no connection left: stopping before the grace ends")
                break
        self._stop(0)

    # ---- handover mode --------------------------------------------------------------------

    def _new_protocol(self) -> asyncio.Protocol:
        return self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )

    async def _publish_when_ready(
        self, handover: Handover, check_servers: list[asyncio.base_events.Server]
    ) -> None:
        verdict = await asyncio.to_thread(handover.start_verdict)
        if verdict.yield_to is not None:
            log.warning("%s", await asyncio.to_thread(handover.step_aside, verdict))
            return self._stop(0)
        log.info("%s", verdict.note)
        if verdict.promoted:
            handover.promotion.promote("restart policy")
        promoted = asyncio.Event()
        loop = asyncio.get_running_loop()
        handover.promotion.when_promoted(lambda: loop.call_soon_threadsafe(promoted.set))
        if not await self.app.wait_loaded():
            return  # the app failed to load: the server is stopping already
        await promoted.wait()
        how = handover.promotion.how
        log.info("promoted (%s): opening public port %d", how, handover.public_port)
        sock = await self._listen_public(handover)
        if sock is None:
            log.error(
                "public port %d still in use after %.0f s (an agent without SO_REUSEPORT or a "
                "docker-proxy holds it): exiting 1",
                handover.public_port,
                handover.bind_retry_for,
            )
            return self._stop(1)
        server = await loop.create_server(self._new_protocol, sock=sock, backlog=BACKLOG)
        self.servers.append(server)
        if self._draining:
            return await close_servers([server])
        record_serving_port(handover.public_port)
        await close_servers(check_servers)  # connections already on it are served to the end
        log.info("listening on 0.0.0.0:%d (public); check port closed", handover.public_port)

    async def _listen_public(self, handover: Handover) -> socket.socket | None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + handover.bind_retry_for
        waiting_logged = False
        while True:
            sock = try_listen_public(handover.public_port)
            if sock is not None or loop.time() >= give_up:
                return sock
            if not waiting_logged:
                log.info(
                    "public port %d in use by a socket that does not share it: retrying every "
                    "%d ms for up to %.0f s",
                    handover.public_port,
                    BIND_RETRY_SECONDS * 1000,
                    handover.bind_retry_for,
                )
                waiting_logged = True
            await asyncio.sleep(BIND_RETRY_SECONDS)
