"""Small stand-ins for DTMA builds that failed in the field, one `flaw` each.

`good` follows DTMA-CONTRACT.md for everything the smoke suite looks at; every other flaw
reproduces one known failure. Run in a thread on a free loopback port:

    with BrokenAgent("status_500", key="k") as agent:
        agent.port

`python -m tests.smoke.broken_agents crash` is the crash-looping build: it exits at start.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

FLAWS = (
    "good",
    "any_token",  # accepts whatever it is sent
    "other_token",  # checks a token other than the backend's key
    "status_500",  # /status throws
    "no_instance_ids",  # tool_instances without account_tool_instance_id
    "misconfigured",  # started without its environment
    "text_health",  # a default web page answers instead of the agent
    "hang",  # accepts connections, never answers (a black hole on the path)
    "echo_token",  # crashes on authenticated /status and prints the credentials it got
    "stop_500",  # creates tool containers but cannot stop them
    "length_only",  # compares only the token's length with the key's
    "prefix_token",  # accepts any token the key starts with (a compare cut short)
    "echo_token_late",  # echoes the credentials late in a long 500 body, past any cut-off
    "docker_words",  # reports Docker's `exited` for a stopped tool (the backend reads: error)
    "private_tool_list",  # hides tool_instances without credentials (the tool list is empty)
)
VERSION = "0.0.0-smoke"


class BrokenAgent:
    def __init__(self, flaw: str, key: str, port: int = 0):
        if flaw not in FLAWS:
            raise ValueError(f"unknown flaw {flaw!r}: one of {', '.join(FLAWS)}")
        self.flaw, self.key = flaw, key
        self.tools: dict[str, dict[str, Any]] = {}
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> BrokenAgent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    # the agent's logic, per flaw
    def auth(self, authorization: str | None) -> int | None:
        """None when allowed, else the status to answer."""
        if self.flaw == "any_token":
            return None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token.strip():
            return 401
        token = token.strip()
        if self.flaw == "length_only":
            return None if len(token) == len(self.key) else 403
        if self.flaw == "prefix_token":
            return None if self.key.startswith(token) else 403
        expected = "a-token-the-backend-never-sends" if self.flaw == "other_token" else self.key
        return None if token == expected else 403

    def status(self, authorization: str | None) -> tuple[int, Any]:
        if self.flaw == "status_500":
            return 500, {"error": "internal error"}
        state = "misconfigured" if self.flaw == "misconfigured" else "healthy"
        public = {"status": state, "service": "DTMA", "version": VERSION, "dtma_version": VERSION}
        if self.flaw == "misconfigured":
            public["missing"] = ["BACKEND_TO_DTMA_API_KEY", "AGENTOPIA_API_BASE_URL"]
        items = list(self.tools.values()) or [tool_item("tool-1", "ati-existing", "running")]
        if self.flaw == "no_instance_ids":
            items = [{k: v for k, v in items[0].items() if k != "account_tool_instance_id"}]
        if self.flaw == "docker_words":
            items = [{**item, "status": "exited"} for item in items]
        if authorization is None and self.flaw != "any_token":
            if self.flaw != "private_tool_list":
                public["tool_instances"] = items
            return 200, public
        if denied := self.auth(authorization):
            return denied, {"error": "invalid credentials"}
        if self.flaw == "echo_token":
            return 500, {"error": f"KeyError while handling {authorization!r}"}
        if self.flaw == "echo_token_late":  # the token straddles a 200-character cut
            return 500, {"error": f"{'.' * 150} while handling {authorization!r}"}
        full_items = [{**item, "ports": {}} for item in items]
        environment = {"hasAuthToken": True, "hasApiKey": True, "port": 30000}
        return 200, {**public, "environment": environment, "tool_instances": full_items}

    def tool_route(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, Any]:
        if denied := self.auth(auth):
            return denied, {"error": "invalid credentials"}
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["tools"]:
            return 200, {"tool_instances": list(self.tools.values())}
        if method == "POST" and parts == ["tools"]:
            name = body["instanceNameOnToolbox"]
            self.tools[name] = tool_item(name, body["accountToolInstanceId"], "running")
            return 201, self.tools[name]
        name = unquote(parts[1]) if len(parts) > 1 else ""
        if name not in self.tools:
            return 404, {"error": f"no managed container {name!r}"}
        if method == "DELETE":
            return 200, self.tools.pop(name)
        if self.flaw == "stop_500" and parts[2:] == ["stop"]:
            return 500, {"error": "internal error"}
        self.tools[name]["status"] = {"stop": "stopped", "start": "running"}[parts[2]]
        return 200, self.tools[name]


def tool_item(name: str, instance_id: str, status: str) -> dict[str, Any]:
    """A tool as the public /status lists it (DTMA-CONTRACT.md)."""
    return {
        "account_tool_instance_id": instance_id,
        "instance_name_on_toolbox": name,
        "container_id": f"c0ffee{abs(hash(name)):016x}",
        "status": status,
        "image": "tool:1",
        "created": 1750000000,
    }


def _handler_for(agent: BrokenAgent) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def handle_one_request(self) -> None:
            if agent.flaw == "hang":
                agent._release.wait()
                return
            super().handle_one_request()

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def _route(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            auth = self.headers.get("Authorization")
            if self.path == "/health" and agent.flaw == "text_health":
                return self._answer(200, "<html>It works!</html>", "text/html")
            if self.path == "/health":
                return self._answer(200, {"status": "ok"})
            if self.path == "/status":
                return self._answer(*agent.status(auth))
            if self.path.startswith("/tools"):
                body = json.loads(raw) if raw else None
                return self._answer(*agent.tool_route(method, self.path, body, auth))
            return self._answer(404, {"error": "not found"})

        def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
            payload = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def main(argv: list[str]) -> int:
    """`crash`: the build that read its token from a config file the droplet never had."""
    if argv[:1] == ["crash"]:
        print("FileNotFoundError: /etc/dtma/config.json", file=sys.stderr)
        return 1
    print(f"usage: python -m {__spec__.name if __spec__ else 'broken_agents'} crash")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
