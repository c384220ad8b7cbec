"""`python -m dtma.forwarder`: a TCP relay, standard library only.

Listens on 0.0.0.0:$DTMA_FORWARD_PORT (default 30000) and relays each connection to
$DTMA_FORWARD_TARGET (default gateway:30000) over a new upstream connection. It runs as the
container `dtma_manager` on Docker's default bridge, so that containers made with `--link
dtma_manager:dtma` still reach the agent, which listens on the host network, at
http://dtma:30000. The host `gateway` is the container's default gateway, read at each connect:
the host's address on the bridge (Docker's `host-gateway` resolves to nothing after an engine
restart with live-restore, which adoption does).

- An upstream that refuses (an agent restarting) is retried every 50 ms for up to 3 s before the
  client's connection is closed.
- Half-close: when one side ends its sending, the other side is told (EOF), and the relay goes
  on the other way until that side ends too.
- At most MAX_RELAYS connections at once (one more is closed at once), and a connection on which
  nothing moved either way for IDLE_SECONDS is closed: idle clients cannot pile up.
- SIGTERM or SIGINT: stop listening, close the relayed connections, exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger("dtma.forwarder")
DEFAULT_PORT = 30000
DEFAULT_TARGET = "gateway:30000"
GATEWAY = "gateway"
RETRY_SECONDS = 0.05
RETRY_FOR_SECONDS = 3.0
CHUNK = 64 * 1024
MAX_RELAYS = 64
# Longer than any request the backend waits on in silence (a tool's image pull: the agent's
# Docker calls allow 300 s per read), so only a connection nobody uses is cut.
IDLE_SECONDS = 600.0


@dataclass(frozen=True)
class ForwardSettings:
    port: int
    target_host: str
    target_port: int
    max_relays: int = MAX_RELAYS
    idle_seconds: float = IDLE_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ForwardSettings:
        port = int(env.get("DTMA_FORWARD_PORT") or DEFAULT_PORT)
        host, _, target_port = (env.get("DTMA_FORWARD_TARGET") or DEFAULT_TARGET).rpartition(":")
        if not host or not target_port.isdigit():
            raise ValueError("DTMA_FORWARD_TARGET must be HOST:PORT")
        relays = int(env.get("DTMA_FORWARD_MAX_CONNECTIONS") or MAX_RELAYS)
        idle = float(env.get("DTMA_FORWARD_IDLE_SECONDS") or IDLE_SECONDS)
        if relays < 1 or not idle > 0:
            raise ValueError("DTMA_FORWARD_MAX_CONNECTIONS and _IDLE_SECONDS must be above 0")
        return cls(port, host.strip("[]"), int(target_port), relays, idle)


def default_gateway(routes: str = "/proc/net/route") -> str:
    """The default route's gateway, e.g. 172.17.0.1 ("" without one)."""
    with open(routes) as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000":
                return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    return ""


async def connect_upstream(
    settings: ForwardSettings,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """A new connection to the target, retried while it is refused (or not resolvable)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + RETRY_FOR_SECONDS
    while True:
        try:
            host = settings.target_host
            host = default_gateway() if host == GATEWAY else host
            return await asyncio.open_connection(host, settings.target_port)
        except OSError as exc:
            if loop.time() >= give_up:
                log.warning("upstream %s:%d: %s", settings.target_host, settings.target_port, exc)
                return None
        await asyncio.sleep(RETRY_SECONDS)


class Activity:
    """When bytes last moved on a relayed connection, either way."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self.last = asyncio.get_running_loop().time()

    def idle_for(self) -> float:
        return asyncio.get_running_loop().time() - self.last


async def read_while_active(source: asyncio.StreamReader, activity: Activity) -> bytes:
    """The next chunk; ConnectionError once nothing moved either way for its idle time."""
    while True:
        wait = max(0.01, activity.idle_seconds - activity.idle_for())
        try:
            data = await asyncio.wait_for(source.read(CHUNK), wait)
        except TimeoutError:
            if activity.idle_for() >= activity.idle_seconds:
                raise ConnectionError("idle") from None
            continue
        activity.last = asyncio.get_running_loop().time()
        return data


async def pipe(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, activity: Activity | None = None
) -> None:
    """Copy until EOF, then pass the EOF on (half-close); an idle connection is closed."""
    activity = activity or Activity()
    try:
        while data := await read_while_active(source, activity):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof() and not sink.is_closing():
            sink.write_eof()
    except (ConnectionError, OSError):
        sink.close()  # a reset on one side ends the other side too


class Forwarder:
    def __init__(self, settings: ForwardSettings) -> None:
        self.settings = settings
        self._relays: set[asyncio.Task[None]] = set()

    async def relay(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter):
        task = asyncio.current_task()
        assert task is not None
        if len(self._relays) >= self.settings.max_relays:
            client_out.close()
            return
        self._relays.add(task)
        upstream = None
        try:
            upstream = await connect_upstream(self.settings)
            if upstream is not None:
                up_in, up_out = upstream
                activity = Activity(self.settings.idle_seconds)
                await asyncio.gather(
                    pipe(client_in, up_out, activity), pipe(up_in, client_out, activity)
                )
        finally:
            self._relays.discard(task)
            for writer in (client_out, upstream[1] if upstream else None):
                if writer is not None:
                    writer.close()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        server = await asyncio.start_server(self.relay, "0.0.0.0", self.settings.port)
        log.info(
            "forwarding 0.0.0.0:%d -> %s:%d",
            self.settings.port,
            self.settings.target_host,
            self.settings.target_port,
        )
        async with server:
            await stop.wait()
            server.close()
            for task in list(self._relays):
                task.cancel()
            await asyncio.gather(*self._relays, return_exceptions=True)
        log.info("stopped")


def main() -> int:
    line = "%(asctime)s %(levelname)s %(name)s %(message)s"
    logging.basicConfig(level=logging.INFO, format=line, stream=sys.stderr)
    try:
        settings = ForwardSettings.from_env()
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    asyncio.run(Forwarder(settings).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
