"""SIGTERM closes the listeners without dropping what asyncio accepted in that same loop tick.

asyncio accepts a tick's connections in one callback and attaches each to its server in a task
of its own; a server closed in between refuses them and their sockets are reset later. The
timer below runs the stop right after the accept callback, in the same tick: the moment a
client connecting as the SIGTERM arrives hits.
"""

from __future__ import annotations

import asyncio
import signal
import socket

import uvicorn

from dtma.agent_server import AgentServer

CLIENTS = 3


class Answer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(b"served")
        transport.close()


def read_answer(client: socket.socket) -> bytes:
    client.settimeout(30)  # a dropped connection is reset or never answered; a served one at once
    try:
        return client.recv(64)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}".encode()
    finally:
        client.close()


async def stop_in_the_accepting_tick() -> list[bytes]:
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(Answer, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    agent = AgentServer(uvicorn.Config(app=Answer), app=None, drain_grace=60)  # type: ignore[arg-type]
    agent._loop, agent.servers = loop, [listener]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CLIENTS)]
    # Due now: the next tick selects the readable listener, queues asyncio's accept callback,
    # then this timer, so the stop runs between the accepts and their attaching.
    loop.call_later(0, agent._close_listeners, signal.SIGTERM)
    try:
        return list(await asyncio.gather(*(asyncio.to_thread(read_answer, c) for c in clients)))
    finally:
        listener.close()


def test_connections_accepted_as_the_listeners_close_are_served():
    assert asyncio.run(stop_in_the_accepting_tick()) == [b"served"] * CLIENTS
