"""uvicorn, configured so that slow or many clients cannot hold the agent.

- HEADER_SECONDS: a connection must deliver a request's headers within this time (uvicorn has
  no such deadline of its own: a client could connect and send nothing, forever);
- IDLE_SECONDS: a kept-alive connection with no new request is closed (uvicorn's keep-alive);
- MAX_CONNECTIONS: past this many connections and requests in flight, uvicorn answers 503;
- MAX_HEADER_BYTES: an incomplete header block larger than this is refused (h11); a complete
  one is counted by `dtma.bootstrap` (431);
- PER_ADDRESS: one address holds at most half of them (more are closed at once), so idle or
  slow clients of one address can never take the slot the backend's one /status needs.
Bodies are capped and credentials checked before a body is read by `dtma.guard`.
"""

from __future__ import annotations

import asyncio
import collections
import secrets
import socket
import sys
from typing import ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from dtma.agent_server import AgentServer, Handover
from dtma.bootstrap import MAX_HEADER_BYTES, App, DeferredApp
from dtma.config import Settings
from dtma.contract import INSTANCE_HEADER
from dtma.listeners import BACKLOG

# With the drain grace (<= 5 s) and the app's own shutdown, well below `docker stop`'s 10 s.
GRACE_SECONDS = 5
HEADER_SECONDS = 10.0
IDLE_SECONDS = 5
MAX_CONNECTIONS = 100
PER_ADDRESS = MAX_CONNECTIONS // 2


class H11WithHeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for each request's headers and a cap on the
    connections of one address."""

    _header_deadline: asyncio.TimerHandle | None = None
    _address: str | None = None
    per_address: ClassVar[collections.Counter[str]] = collections.Counter()  # one loop a process

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(HEADER_SECONDS, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        # Still no complete request line and headers: whatever the client is doing, it is not
        # sending a request.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else None
        if address is not None and self.per_address[address] >= PER_ADDRESS:
            transport.close()  # connection_lost follows; nothing was counted for it
            return
        if address is not None:
            self._address = address
            self.per_address[address] += 1
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are in

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # for the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address is not None:
            self.per_address[self._address] -= 1
            if self.per_address[self._address] <= 0:
                del self.per_address[self._address]
            self._address = None
        super().connection_lost(exc)


def load_app(settings: Settings) -> App:
    from dtma.app import create_app  # the web stack and the Docker SDK: over a second here

    return create_app(settings)


def serve(settings: Settings, sock: socket.socket, handover: Handover | None = None) -> None:
    """Serve on `sock` (and, in handover mode, on the public port once promoted) until SIGTERM
    or SIGINT; exit 1 when the app cannot be loaded or the public port stays taken."""
    server: AgentServer | None = None

    def stop() -> None:
        if server is not None:
            server.should_exit = True

    app = DeferredApp(lambda: load_app(settings), on_failure=stop)
    config = uvicorn.Config(
        app,
        host=sock.getsockname()[0],
        port=sock.getsockname()[1],
        http=H11WithHeaderDeadline,
        lifespan="on",
        access_log=False,  # our middleware writes one line per request, without headers
        log_config=None,
        timeout_graceful_shutdown=GRACE_SECONDS,
        timeout_keep_alive=IDLE_SECONDS,
        limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        backlog=BACKLOG,
        headers=[(INSTANCE_HEADER, secrets.token_hex(8))],
    )
    server = AgentServer(config, app, settings.drain_grace, handover)
    server.run(sockets=[sock])
    if app.failed:
        sys.exit(1)
    if server.exit_code:
        sys.exit(server.exit_code)
