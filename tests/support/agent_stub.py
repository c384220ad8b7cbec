"""A stand-in agent for unit tests of the deploy's checks: /health and /status as the
contract says (dtma/contract.py), on a loopback port, with a settable version and key."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dtma.contract import FULL_STATUS_SCHEMA


class AgentStub:
    def __init__(
        self, *, key: str, version: str, status: str = "healthy", instance: str = "stub-1"
    ) -> None:
        self.key, self.version, self.status, self.instance = key, version, status, instance
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = stub.answer(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if stub.instance:
                    self.send_header("X-DTMA-Instance", stub.instance)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        if path == "/health":
            return 200, {"status": "ok"}
        body: dict[str, Any] = {
            "status": self.status,
            "service": "DTMA",
            "version": self.version,
            "dtma_version": self.version,
            "uptime_seconds": 1.0,
        }
        if authorization is None:
            return 200, body
        if authorization != f"Bearer {self.key}":
            return 403, {"error": "forbidden"}
        full = {"environment": {"port": 30000}, "system_metrics": {}, "tool_instances": []}
        assert set(FULL_STATUS_SCHEMA["required"]) <= {*body, *full}
        return 200, {**body, **full}

    def __enter__(self) -> AgentStub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
