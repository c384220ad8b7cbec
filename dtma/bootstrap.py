"""The app uvicorn serves from its first moment, while the real one is still being imported.

Importing the web stack and the Docker SDK takes over a second on a small droplet. Meanwhile
`GET /health` is answered at once (the process is alive and listening), every other request
waits for the real app and is then handed to it, and the real app's lifespan (the heartbeat) is
started once it is loaded and stopped at shutdown. If the real app cannot be loaded, the
failure is logged and `on_failure` is called (the server stops; the process exits non-zero):
a broken build must not look healthy.

Only the standard library here: this module is imported before the port answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("dtma")

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]
HEALTH_BODY = b'{"status":"ok"}'
MAX_HEADER_BYTES = 16 * 1024


def header_bytes(scope: Message) -> int:
    """A request's line and headers as they came on the wire (": " and CRLF included)."""
    size = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", []))
    return size + len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16


async def answer_health(send: Send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(HEALTH_BODY)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": HEALTH_BODY})


async def answer_headers_too_large(send: Send) -> None:
    body = b'{"error":"request headers over %d bytes"}' % MAX_HEADER_BYTES
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 431, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def answer_unavailable(send: Send) -> None:
    body = b'{"error":"the agent failed to start; see its log"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LifespanBridge:
    """Runs an ASGI app's lifespan protocol from the outside: startup, later shutdown."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _step(self, message: str, expected: str) -> None:
        await self._inbox.put({"type": message})
        reply = asyncio.ensure_future(self._outbox.get())
        assert self._task is not None
        await asyncio.wait({reply, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            self._task.result()  # raises what the app raised
            raise RuntimeError(f"the app's lifespan ended without answering {message}")
        if reply.result()["type"] != expected:
            raise RuntimeError(reply.result().get("message") or f"{message} failed")

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        self._task = asyncio.ensure_future(
            self._app({**scope, "state": {}}, self._inbox.get, self._outbox.put)
        )
        await self._step("lifespan.startup", "lifespan.startup.complete")

    async def shutdown(self) -> None:
        await self._step("lifespan.shutdown", "lifespan.shutdown.complete")


class DeferredApp:
    def __init__(self, load: Callable[[], App], on_failure: Callable[[], None]) -> None:
        self._load, self._on_failure = load, on_failure
        self._app: App | None = None
        self._ready: asyncio.Event | None = None
        self.failed = False

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        # h11 bounds a header block only while it is incomplete: one that came whole is
        # counted here, before anything else (every path, /health included).
        if scope["type"] == "http" and header_bytes(scope) > MAX_HEADER_BYTES:
            return await answer_headers_too_large(send)
        if self._app is None:
            if scope["type"] == "http" and scope["path"] == "/health":
                return await answer_health(send)
            assert self._ready is not None  # set before uvicorn serves a request
            await self._ready.wait()
        if self._app is None:
            return await answer_unavailable(send)
        await self._app(scope, receive, send)

    async def wait_loaded(self) -> bool:
        """Wait until the real app is loaded and its lifespan started (True) or failed (False)."""
        assert self._ready is not None  # set before uvicorn's startup completes
        await self._ready.wait()
        return self._app is not None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._ready = asyncio.Event()
        await send({"type": "lifespan.startup.complete"})  # uvicorn serves from here on
        bridge = None
        try:
            app = await asyncio.to_thread(self._load)
            bridge = LifespanBridge(app)
            await bridge.startup()
            self._app = app
        except Exception:
            log.exception("the agent's app failed to load")
            self.failed, bridge = True, None
            self._on_failure()
        finally:
            self._ready.set()
        await receive()  # lifespan.shutdown
        if bridge is not None:
            await bridge.shutdown()
        await send({"type": "lifespan.shutdown.complete"})
