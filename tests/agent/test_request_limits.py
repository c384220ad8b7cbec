"""Request limits before work: credentials before the body, a capped body, slow clients cut off."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from dtma import guard, serving
from dtma.guard import MAX_BODY_BYTES, RequestGuard
from tests.agent.conftest import BACKEND_KEY, settings_for
from tests.support.ports import free_port

MB = 1024 * 1024


class Recorder:
    """An ASGI app that records the body it was handed and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def call_guard(path: str, headers: dict[str, str], chunks: list[bytes], stall: bool = False):
    """Run the guard once; returns (status, body, answer headers, how many chunks it read)."""
    app = Recorder()
    read = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        if read == len(chunks):
            if stall:
                await asyncio.sleep(3600)
            return {"type": "http.disconnect"}
        read += 1
        more = stall or read < len(chunks)
        return {"type": "http.request", "body": chunks[read - 1], "more_body": more}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(RequestGuard(app, settings_for())(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, dict(start["headers"]), read, app


KEY = {"Authorization": f"Bearer {BACKEND_KEY}"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": "Basic x"}, 401)],
)
def test_credentials_are_checked_before_a_byte_of_the_body(headers, status):
    huge = {**headers, "Content-Length": str(200 * MB)}
    answer, body, answer_headers, read, app = call_guard("/tools", huge, [b"x" * MB] * 3)
    assert answer == status
    assert read == 0 and app.bodies == []
    assert answer_headers[b"connection"] == b"close"  # the client stops sending
    assert BACKEND_KEY.encode() not in body and b"wrong" not in body


def test_a_declared_length_over_the_cap_is_413_unread():
    headers = {**KEY, "Content-Length": str(MAX_BODY_BYTES + 1)}
    answer, _, _, read, app = call_guard("/tools", headers, [b"x"])
    assert (answer, read, app.bodies) == (413, 0, [])


def test_streamed_bytes_are_counted_past_the_cap():
    chunks = [b"x" * (256 * 1024)] * 40  # 10 MiB, chunked: no Content-Length
    answer, body, _, read, app = call_guard("/tools", KEY, chunks)
    assert answer == 413
    assert read == 5  # stopped at the first chunk past 1 MiB
    assert app.bodies == []
    assert json.loads(body) == {"error": f"request body over {MAX_BODY_BYTES} bytes"}


def test_a_body_that_never_ends_is_408(monkeypatch):
    monkeypatch.setattr(guard, "BODY_SECONDS", 0.2)
    answer, _, _, _, app = call_guard("/tools", KEY, [b"{"], stall=True)
    assert (answer, app.bodies) == (408, [])


def test_a_body_within_the_cap_reaches_the_app_whole():
    chunks = [b'{"a": ', b'"' + b"y" * 1000 + b'"}']
    answer, _, _, _, app = call_guard("/tools", KEY, chunks)
    assert answer == 200
    assert app.bodies == [b"".join(chunks)]


def test_public_routes_are_not_asked_for_credentials():
    answer, _, _, _, app = call_guard("/status", {}, [b""])
    assert answer == 200 and app.bodies == [b""]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def upload_without_credentials(port: int, size: int, statuses: list[int]) -> None:
    """POST a `size`-byte body with no Authorization header, as fast as loopback allows,
    reading the answer as soon as it comes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        head = (
            f"POST /tools HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n"
        )
        conn.sendall(head.encode())
        chunk, sent = b"x" * MB, 0
        conn.setblocking(False)
        answer, closed = b"", False
        while b"\r\n" not in answer and not closed:
            with contextlib.suppress(BlockingIOError):
                received = conn.recv(4096)
                answer, closed = answer + received, not received
            if sent < size and b"\r\n" not in answer:
                try:
                    sent += conn.send(chunk)
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    time.sleep(0.001)
        assert answer, "the agent closed the connection without an answer"
        statuses.append(int(answer.split()[1]))


@pytest.mark.e2e
@pytest.mark.parametrize("parallel", [1, 4])
def test_200_mb_unauthenticated_bodies_cost_no_memory(agent, parallel):
    port = int(agent.base_url.rsplit(":", 1)[1])
    pid = agent.process.pid
    upload_without_credentials(port, 10, [])  # the app is loaded: count only the bodies
    before = rss_bytes(pid)
    statuses: list[int] = []
    uploads = [
        threading.Thread(target=upload_without_credentials, args=(port, 200 * MB, statuses))
        for _ in range(parallel)
    ]
    peak = before
    for upload in uploads:
        upload.start()
    while any(upload.is_alive() for upload in uploads):
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.01)
    for upload in uploads:
        upload.join()
    peak = max(peak, rss_bytes(pid))
    print(f"agent RSS before {before / MB:.1f} MB, peak {peak / MB:.1f} MB ({parallel} upload(s))")
    assert statuses == [401] * parallel
    assert peak - before < 50 * MB, f"RSS grew by {(peak - before) / MB:.1f} MB"


@pytest.fixture
def bare_server(monkeypatch) -> Iterator[int]:
    """uvicorn with the agent's protocol and a 0.5 s header deadline, serving a trivial app."""
    monkeypatch.setattr(serving, "HEADER_SECONDS", 0.5)
    port = free_port()
    config = uvicorn.Config(
        Recorder(),
        host="127.0.0.1",
        port=port,
        http=serving.H11WithHeaderDeadline,
        lifespan="off",
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the bare server did not start within 30 s"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_client_that_never_finishes_its_headers_is_cut_off(bare_server):
    with socket.create_connection(("127.0.0.1", bare_server), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        began = time.monotonic()
        assert conn.recv(100) == b""  # closed by the server
        waited = time.monotonic() - began
    assert 0.3 < waited < 8, f"closed after {waited:.1f} s, the deadline is 0.5 s"


def test_a_client_with_its_headers_in_time_is_answered(bare_server):
    with socket.create_connection(("127.0.0.1", bare_server), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.2)
        conn.sendall(b"\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 200")


def connect_from(address: str, port: int) -> socket.socket:
    """A connection to the agent from another loopback address (127.0.0.0/8 is all ours)."""
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(address, 0))


def answer_of(conn: socket.socket, request: bytes) -> bytes:
    conn.sendall(request)
    return conn.recv(100)


@pytest.mark.e2e
def test_past_the_connection_limit_the_agent_answers_503_and_recovers(agent):
    """Many addresses, each under its own cap, together past the agent's limit."""
    port = int(agent.base_url.rsplit(":", 1)[1])
    addresses = [f"127.0.0.{n}" for n in range(2, 9)]  # 7 addresses x 15 > MAX_CONNECTIONS
    held = []
    try:
        for i in range(serving.MAX_CONNECTIONS + 1):
            held.append(connect_from(addresses[i % len(addresses)], port))
        time.sleep(0.5)  # let the agent accept them all
        with connect_from("127.0.0.9", port) as extra:
            extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert extra.recv(100).startswith(b"HTTP/1.1 503")
    finally:
        for conn in held:
            conn.close()
    deadline = time.monotonic() + 30
    while True:  # the held connections are gone: served again
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            if conn.recv(100).startswith(b"HTTP/1.1 200"):
                break
        assert time.monotonic() < deadline, "the agent did not serve again within 30 s"
        time.sleep(0.1)


@pytest.mark.e2e
def test_idle_connections_of_one_address_leave_the_backends_status_served(agent):
    """Hundreds of idle connections from one address hold at most PER_ADDRESS (half) of the
    slots: the backend's one keyed /status, from another address, is answered."""
    port = int(agent.base_url.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):  # past the cap: closed, or reset at once
                held.append(connect_from("127.0.0.2", port))
        time.sleep(0.5)
        keyed = (
            b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + BACKEND_KEY.encode() + b"\r\n\r\n"
        )
        for _ in range(30):  # every try, as the backend's one try would be
            with connect_from("127.0.0.3", port) as backend:
                assert answer_of(backend, keyed).startswith(b"HTTP/1.1 200")
        # one more of that address is closed at once, not served or held
        with connect_from("127.0.0.2", port) as more:
            try:
                said = answer_of(more, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            except ConnectionResetError:
                said = b""
            assert said == b""
    finally:
        for conn in held:
            conn.close()


@pytest.mark.e2e
@pytest.mark.parametrize("size", [17 * 1024, 100 * 1024])
def test_the_agent_answers_431_to_oversized_headers_sent_in_one_piece(agent, size):
    port = int(agent.base_url.rsplit(":", 1)[1])
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"x" * size + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        assert answer_of(conn, request).startswith(b"HTTP/1.1 431")
