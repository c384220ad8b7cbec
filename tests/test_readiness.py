"""The one readiness wait: slow answers are waited for, failures are "not yet", deadlines hold."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.readiness import NotReady, wait_until, wait_until_healthy


class SlowStart(BaseHTTPRequestHandler):
    """Answers 503 for the first requests, then 200 — each answer after a pause, like an agent
    whose port is open while its web stack is still importing."""

    pause = 1.5
    not_ready_answers = 2
    seen = 0

    def do_GET(self) -> None:
        time.sleep(self.pause)
        type(self).seen += 1
        code = 503 if type(self).seen <= self.not_ready_answers else 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    SlowStart.seen = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowStart)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_slow_first_answer_is_waited_for_not_failed(slow_server):
    started = time.monotonic()
    ready_at = wait_until_healthy(slow_server, deadline=60)
    assert ready_at - started >= 3 * SlowStart.pause * 0.9  # two 503s, then the 200
    assert SlowStart.seen == 3


def test_a_server_that_never_listens_fails_at_the_deadline_naming_it():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"  # bound, not listening: refused
        with pytest.raises(NotReady, match=r"/health answering 200 did not happen within 1 s"):
            wait_until_healthy(url, deadline=1)


def test_giving_up_ends_the_wait_at_once_with_the_reason():
    started = time.monotonic()
    with pytest.raises(NotReady, match="gave up: the process exited with 3"):
        wait_until(lambda: None, "never", deadline=60, gave_up=lambda: "the process exited with 3")
    assert time.monotonic() - started < 30


def test_the_first_truthy_value_is_returned():
    values = iter([None, False, {"status": "ok"}])
    assert wait_until(lambda: next(values), "a value", deadline=10, poll=0) == {"status": "ok"}
