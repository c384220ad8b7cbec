"""Request limits before any work: credentials first, then a capped body.

An ASGI middleware in front of the app:
- on routes that need credentials (`/tools…`, `/openapi.json`), the Authorization header is
  checked before a single byte of the body is read: a large unauthenticated body gets its 401 or
  403 at once and costs no memory;
- a Content-Length over MAX_BODY_BYTES is 413 at once; otherwise the body is read here, bytes
  counted (chunked bodies too) and refused with 413 past the cap, or 408 when it does not
  arrive within BODY_SECONDS; the app then gets it whole.
An answer sent before the body was read closes the connection, so the client stops sending.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from dtma.auth import check_credentials
from dtma.config import Settings
from dtma.errors import ApiError

MAX_BODY_BYTES = 1024 * 1024
BODY_SECONDS = 30.0
CREDENTIALS_FIRST = ("/tools", "/openapi.json")

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]


def needs_credentials(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in CREDENTIALS_FIRST)


async def refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


async def read_capped(receive: Receive) -> bytes | None:
    """The whole body, or None when the client went away."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class RequestGuard:
    def __init__(self, app: App, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        if needs_credentials(scope["path"]):
            authorization = headers.get(b"authorization")
            try:
                check_credentials(
                    None if authorization is None else authorization.decode("latin-1"),
                    self.settings,
                )
            except ApiError as exc:
                return await refuse(send, exc.status, exc.message)
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return await refuse(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
        if not needs_credentials(scope["path"]):
            return await self.app(scope, receive, send)  # these routes never read a body
        try:
            body = await asyncio.wait_for(read_capped(receive), BODY_SECONDS)
        except BodyTooLarge:
            return await refuse(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
        except TimeoutError:
            return await refuse(send, 408, f"request body not received within {BODY_SECONDS:g} s")
        if body is None:
            return None
        await self.app(scope, replay(body, receive), send)


def replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def receive_again() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # after the body: only a disconnect can come
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again
