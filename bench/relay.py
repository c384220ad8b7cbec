"""A link with latency: a TCP relay that delivers each direction's bytes `delay` seconds after
it read them (order kept, throughput not limited by it). This kernel has no netem; the relay
sits on the way to a sandbox droplet's published ports (SSH and the agent's), so every round
trip a deploy makes, over SSH or to the agent, pays 2 x `delay` as it would to a far droplet.

    with delayed(sandbox, 0.030) as far:   # a Sandbox whose ports lead through the relays
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Iterator

import docker

from tasks.sandbox import Sandbox
from tasks.sandbox import host_keys as sandbox_host_keys
from tasks.sandbox.droplet import KNOWN_HOSTS

CHUNK = 64 * 1024


async def _carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float):
    """Bytes from `reader` reach `writer` `delay` s after they were read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        with contextlib.suppress(OSError):  # the far end gone: nothing more to deliver
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

    delivering = asyncio.ensure_future(deliver())
    try:
        while True:
            try:
                data = await reader.read(CHUNK)
            except OSError:
                data = b""  # a reset reads as the end
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await delivering
    finally:
        delivering.cancel()


class DelayRelay:
    """127.0.0.1:`port` -> 127.0.0.1:`target`, `delay` s each way, served in a thread."""

    def __init__(self, target: int, delay: float) -> None:
        self.target, self.delay = target, delay
        self._loop = asyncio.new_event_loop()
        self._relays: set[asyncio.Task[None]] = set()  # held: a task only weakly held may go
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accepted, "127.0.0.1", 0)
        )
        self.port: int = self._server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _accepted(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._relay(client_r, client_w))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        try:
            far_r, far_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(
                _carry(client_r, far_w, self.delay),
                _carry(far_r, client_w, self.delay),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # the relay is closing
        finally:
            far_w.close()
            client_w.close()

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextlib.contextmanager
def delayed(box: Sandbox, delay: float) -> Iterator[Sandbox]:
    """`box` as seen across a link `delay` s long each way: its SSH and agent ports through
    relays (the droplet's host key recorded for the relayed SSH port, forgotten after)."""
    ssh, http = DelayRelay(box.ssh_port, delay), DelayRelay(box.http_port, delay)
    try:
        container = docker.from_env().containers.get(box.name)
        if not sandbox_host_keys.record(KNOWN_HOSTS, container, ssh.port):
            raise RuntimeError(f"{box.name}: its host key cannot be read")
        yield dataclasses.replace(box, ssh_port=ssh.port, http_port=http.port)
    finally:
        sandbox_host_keys.forget(KNOWN_HOSTS, ssh.port)
        ssh.close()
        http.close()
