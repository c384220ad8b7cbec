"""One log line per request (method, path, status, time, id; never headers or the query) and an
`X-Request-ID` on every answer. A bug becomes a 500 `{"error": "internal error", "request_id"}`
with the traceback in the log only.

Plain ASGI (not Starlette's BaseHTTPMiddleware, which costs about a millisecond a request).
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from dtma.guard import App, Message, Receive, Send

log = logging.getLogger("dtma.request")


class RequestLog:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = uuid.uuid4().hex[:16]
        begin = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Traceback to the log only; the caller gets an id to quote.
            log.exception("unhandled error request_id=%s", request_id)
            if status:
                raise  # the answer has begun: nothing sensible can follow it
            body = json.dumps({"error": "internal error", "request_id": request_id}).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        # Path only: the query string and headers (Authorization) never reach the log.
        line = {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "ms": round((time.perf_counter() - begin) * 1000, 1),
            "request_id": request_id,
        }
        log.info(json.dumps(line))
