"""A stand-in for DigitalOcean's API, enough of it for the fleet inventory: `GET /v2/droplets`.

Faithful to the documented contract (docs.digitalocean.com/reference/api): HTTPS only (pydo
refuses to send a bearer token over plain HTTP), `Authorization: Bearer <token>` or 401
`{"id": "unauthorized", "message": "Unable to authenticate you"}`, `tag_name`, `per_page`
(default 20, max 200) and `page` (from 1) query parameters, and an answer
`{"droplets": [...], "links": {"pages": {"first", "prev", "next", "last"}}, "meta": {"total"}}`
where `next` is present on every page but the last. A droplet carries `networks.v4[]` entries
with `ip_address` and `type` ("public" or "private").
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


def droplet(droplet_id: int, name: str, public: str | None, tags: list[str]) -> dict[str, Any]:
    v4 = [
        {"ip_address": f"10.10.0.{droplet_id % 250}", "netmask": "255.255.0.0", "type": "private"}
    ]
    if public is not None:
        v4.append({"ip_address": public, "netmask": "255.255.240.0", "type": "public"})
    return {
        "id": droplet_id,
        "name": name,
        "status": "active",
        "tags": tags,
        "networks": {"v4": v4, "v6": []},
    }


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost) and its key, made with openssl."""
    cert, key = folder / "do-standin.crt", folder / "do-standin.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class DigitalOceanStandIn:
    """`with DigitalOceanStandIn(tmp_path, token, droplets) as api:` then `api.endpoint`."""

    def __init__(self, folder: Path, token: str, droplets: list[dict[str, Any]]):
        self.token, self.droplets = token, droplets
        self.requests: list[dict[str, list[str]]] = []  # query of each authorised list call
        self.cert, key = self_signed_certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.endpoint = f"https://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> DigitalOceanStandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        if authorization != f"Bearer {self.token}":
            return 401, {"id": "unauthorized", "message": "Unable to authenticate you"}
        url = urlsplit(path)
        if url.path != "/v2/droplets":
            return 404, {
                "id": "not_found",
                "message": "The resource you requested could not be found.",
            }
        query = parse_qs(url.query)
        self.requests.append(query)
        per_page = min(int(query.get("per_page", ["20"])[0]), 200)
        page = int(query.get("page", ["1"])[0])
        tag = query.get("tag_name", [None])[0]
        matching = [d for d in self.droplets if tag is None or tag in d["tags"]]
        last = max(1, -(-len(matching) // per_page))
        pages: dict[str, str] = {}

        def link(number: int) -> str:
            params = {"page": number, "per_page": per_page, **({"tag_name": tag} if tag else {})}
            return f"{self.endpoint}/v2/droplets?{urlencode(params)}"

        if page > 1:
            pages |= {"first": link(1), "prev": link(page - 1)}
        if page < last:
            pages |= {"next": link(page + 1), "last": link(last)}
        body = {
            "droplets": matching[(page - 1) * per_page : page * per_page],
            "links": {"pages": pages},
            "meta": {"total": len(matching)},
        }
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = stand_in.answer(self.path, self.headers.get("Authorization"))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_: object) -> None:
                pass

        return Handler
