"""A stand-in for the Agentopia (Supabase) backend, faithful to DTMA-CONTRACT.md.

Three functions, served on loopback:
- `POST /functions/v1/heartbeat`: the agent's heartbeat. 204, 401 for an unknown droplet token,
  400 for a body that is not JSON. `heartbeat_mode` makes it answer 500 or hang instead.
- `POST /functions/v1/toolboxes-user/{id}/refresh-status`: the frontend's "refresh status". One
  `GET /status` to the agent with the backend key, single attempt, no retry; any failure inside
  comes back as HTTP 500 `{"error": ...}`, as the real function does. Item statuses go through
  the backend's status mapper (`smoke_tests.backend_refresh.instance_status`: its six words, any
  other becomes error).
- `GET /functions/v1/toolbox-tools/{id}`: the backend's tool list. One `GET /status` WITHOUT any
  Authorization header (10 s timeout), reading `container_id`, `instance_name_on_toolbox`,
  `status`, `image` and `created` (Unix seconds, times 1000) of each `tool_instances[]` item.

The real function always calls port 30000; this one takes the agent's port per toolbox so that
tests can run agents on free loopback ports.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from dtma.contract import INSTALLATION_STATUSES
from smoke_tests.backend_refresh import instance_status
from tests.support.readiness import wait_until

REFRESH_PATH = re.compile(r"^/functions/v1/toolboxes-user/([^/]+)/refresh-status$")
TOOL_LIST_PATH = re.compile(r"^/functions/v1/toolbox-tools/([^/]+)$")
HEARTBEAT_PATH = "/functions/v1/heartbeat"


@dataclass
class Heartbeat:
    at: float
    authorization: str
    body: Any  # the parsed JSON, or None when the body was not JSON


@dataclass
class Toolbox:
    id: str
    agent_host: str
    agent_port: int
    instance_ids: tuple[str, ...] = ()
    row: dict[str, Any] = field(default_factory=dict)


class BackendStandIn:
    def __init__(self, *, droplet_token: str, backend_key: str, user_jwt: str = "user-jwt-test"):
        self.droplet_token = droplet_token
        self.backend_key = backend_key
        self.user_jwt = user_jwt
        self.heartbeat_mode = "ok"
        self.heartbeats: list[Heartbeat] = []
        self.heartbeat_statuses: dict[str, str] = {}  # instance id -> the enum word written
        self.heartbeat_rejected: list[str] = []  # words whose row update failed
        self.instance_statuses: dict[str, str] = {}
        self._toolboxes: dict[str, Toolbox] = {}
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # lifecycle
    def __enter__(self) -> BackendStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._release.set()  # let hanging requests go
        self._server.shutdown()
        self._server.server_close()

    # addresses
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/functions/v1"

    def refresh_url(self, toolbox_id: str) -> str:
        return f"{self.api_base_url}/toolboxes-user/{toolbox_id}/refresh-status"

    def tool_list_url(self, toolbox_id: str) -> str:
        return f"{self.api_base_url}/toolbox-tools/{toolbox_id}"

    # data
    def add_toolbox(
        self,
        toolbox_id: str,
        agent_host: str = "127.0.0.1",
        agent_port: int = 30000,
        instance_ids: tuple[str, ...] = (),
    ) -> None:
        row = {
            "id": toolbox_id,
            "status": "active",
            "public_ip_address": agent_host,
            "last_heartbeat_at": None,
            "dtma_last_known_version": None,
            "dtma_health_details_json": None,
        }
        self._toolboxes[toolbox_id] = Toolbox(toolbox_id, agent_host, agent_port, instance_ids, row)

    def toolbox_row(self, toolbox_id: str) -> dict[str, Any]:
        return dict(self._toolboxes[toolbox_id].row)

    def instance_status(self, instance_id: str) -> str | None:
        return self.instance_statuses.get(instance_id)

    def wait_for_heartbeats(self, count: int, timeout: float = 60.0) -> list[Heartbeat]:
        def enough() -> list[Heartbeat] | None:
            return list(self.heartbeats) if len(self.heartbeats) >= count else None

        return wait_until(enough, f"{count} heartbeats", deadline=timeout, poll=0.02)

    # the two functions
    def handle_heartbeat(self, authorization: str, raw: bytes) -> tuple[int, Any]:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        self.heartbeats.append(Heartbeat(time.time(), authorization, body))
        if self.heartbeat_mode == "hang":
            self._release.wait()
            return 500, {"error": "stand-in closed while hanging"}
        if self.heartbeat_mode == "error":
            return 500, {"error": "stand-in told to fail"}
        if authorization != f"Bearer {self.droplet_token}":
            return 401, {"error": "Invalid or unknown DTMA token"}
        if not isinstance(body, dict):
            return 400, {"error": "Invalid JSON body"}
        # Each item's word goes as received into an enum column: a word outside the enum fails
        # that row's update (Postgres 22P02), and the function still answers 204.
        for item in body.get("tool_statuses") or []:
            word = item.get("status_on_toolbox") if isinstance(item, dict) else None
            if word in INSTALLATION_STATUSES:
                self.heartbeat_statuses[item.get("account_tool_instance_id")] = word
            else:
                self.heartbeat_rejected.append(str(word))
        return 204, None

    def handle_refresh(self, toolbox_id: str, authorization: str) -> tuple[int, Any]:
        if authorization != f"Bearer {self.user_jwt}":
            return 401, {"error": "Unauthorized"}
        toolbox = self._toolboxes.get(toolbox_id)
        if toolbox is None:
            return 500, {"error": f"Toolbox {toolbox_id} not found or access denied."}
        url = f"http://{toolbox.agent_host}:{toolbox.agent_port}/status"
        try:
            resp = requests.get(
                url, headers={"Authorization": f"Bearer {self.backend_key}"}, timeout=10
            )
            if not resp.ok:
                raise RuntimeError(f"DTMA status check failed with HTTP {resp.status_code}")
            body = resp.json()
        except (requests.RequestException, RuntimeError, ValueError) as exc:
            toolbox.row["status"] = "unresponsive"
            return 500, {"error": f"Failed to refresh status from DTMA: {exc}"}
        row = toolbox.row
        row["dtma_last_known_version"] = body.get("version") or body.get("dtma_version")
        row["dtma_health_details_json"] = (
            body.get("environment") or body.get("system_metrics") or body
        )
        row["last_heartbeat_at"] = datetime.now(UTC).isoformat()
        row["status"] = "active"
        for item in body.get("tool_instances") or []:
            instance_id = item.get("account_tool_instance_id") if isinstance(item, dict) else None
            if instance_id:
                self.instance_statuses[instance_id] = instance_status(item.get("status"))
        return 200, dict(row)

    def handle_tool_list(self, toolbox_id: str, authorization: str) -> tuple[int, Any]:
        if authorization != f"Bearer {self.user_jwt}":
            return 401, {"error": "Unauthorized"}
        toolbox = self._toolboxes.get(toolbox_id)
        if toolbox is None:
            return 500, {"error": f"Toolbox {toolbox_id} not found or access denied."}
        try:
            # No Authorization header: the backend's list calls the public /status.
            resp = requests.get(
                f"http://{toolbox.agent_host}:{toolbox.agent_port}/status", timeout=10
            )
            items = resp.json().get("tool_instances") or []
        except (requests.RequestException, ValueError, AttributeError) as exc:
            return 500, {"error": f"Failed to list tools: {exc}"}
        return 200, [
            {
                "container_id": item.get("container_id"),
                "instance_name_on_toolbox": item.get("instance_name_on_toolbox"),
                "status": item.get("status"),
                "image": item.get("image"),
                "created_ms": item["created"] * 1000 if item.get("created") is not None else None,
            }
            for item in items
        ]


def _handler_for(backend: BackendStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            authorization = self.headers.get("Authorization", "")
            if match := TOOL_LIST_PATH.match(self.path):
                self._answer(*backend.handle_tool_list(match.group(1), authorization))
            else:
                self._answer(404, {"error": "Not found"})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            authorization = self.headers.get("Authorization", "")
            if self.path == HEARTBEAT_PATH:
                status, body = backend.handle_heartbeat(authorization, raw)
            elif match := REFRESH_PATH.match(self.path):
                status, body = backend.handle_refresh(match.group(1), authorization)
            else:
                status, body = 404, {"error": "Not found"}
            self._answer(status, body)

        def _answer(self, status: int, body: Any) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            try:
                self.send_response(status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a hung heartbeat timed out): nothing to tell it

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

    return Handler
