"""The fast start: /health while the real app loads, the rest handed over, a failed load loud."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading

from dtma.bootstrap import DeferredApp
from tests.agent.conftest import REPO
from tests.support.ports import free_port


class Recorder:
    """A real app stand-in with a lifespan: records what it saw."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.events.append(message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        self.events.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"real"})


async def request(app, path: str) -> tuple[int, bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": path, "headers": []}, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


async def run_lifespan(app, shutdown: asyncio.Event) -> list[str]:
    inbox: asyncio.Queue[dict] = asyncio.Queue()
    replies: list[str] = []
    await inbox.put({"type": "lifespan.startup"})

    async def receive() -> dict:
        return await inbox.get()

    async def send(message: dict) -> None:
        replies.append(message["type"])

    async def shut_down_later() -> None:
        await shutdown.wait()
        await inbox.put({"type": "lifespan.shutdown"})

    closer = asyncio.ensure_future(shut_down_later())
    await app({"type": "lifespan"}, receive, send)
    await closer
    return replies


def test_health_answers_before_the_app_is_loaded_and_the_rest_waits_for_it():
    real = Recorder()
    loaded = threading.Event()

    def load():
        loaded.wait(10)  # the import, taking its time
        return real

    failures: list[bool] = []
    app = DeferredApp(load, on_failure=lambda: failures.append(True))

    async def scenario() -> None:
        shutdown = asyncio.Event()
        lifespan = asyncio.ensure_future(run_lifespan(app, shutdown))
        await asyncio.sleep(0.05)
        assert await request(app, "/health") == (200, b'{"status":"ok"}')
        waiting = asyncio.ensure_future(request(app, "/status"))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # held until the real app is there
        loaded.set()
        assert await asyncio.wait_for(waiting, 10) == (200, b"real")
        assert await request(app, "/health") == (200, b"real")  # the real app's own now
        shutdown.set()
        assert await asyncio.wait_for(lifespan, 10) == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]

    asyncio.run(scenario())
    assert real.events == ["lifespan.startup", "/status", "/health", "lifespan.shutdown"]
    assert failures == []


def test_a_failed_load_stops_the_server_and_answers_503():
    def load():
        raise ImportError("broken build")

    failures: list[bool] = []
    app = DeferredApp(load, on_failure=lambda: failures.append(True))

    async def scenario() -> None:
        shutdown = asyncio.Event()
        lifespan = asyncio.ensure_future(run_lifespan(app, shutdown))
        status, body = await asyncio.wait_for(request(app, "/status"), 10)
        assert status == 503 and "failed to start" in json.loads(body)["error"]
        shutdown.set()
        await asyncio.wait_for(lifespan, 10)

    asyncio.run(scenario())
    assert failures == [True] and app.failed


def test_a_build_that_cannot_load_its_app_exits_non_zero(tmp_path):
    shadow = tmp_path / "fastapi"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('broken build')\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}",  # the broken fastapi comes first
        "PORT": str(free_port()),
        "DTMA_SERVING_FILE": str(tmp_path / "serving-port"),  # not the host's /run
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "dtma"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, output
    assert "the agent's app failed to load" in output
    assert "broken build" in output
