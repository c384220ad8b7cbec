"""`ssh -L` to a port on the host's loopback, with the local end held by us from start to end.

The local listener is bound to 127.0.0.1 on a port the kernel picks, before the tunnel is used
and until it is closed: no other local process can take that port in between and receive what
is sent to the host (a key, a token). Each connection to it is relayed over a direct-tcpip
channel of the host's SSH transport. A connection the host refuses (nothing listens there
yet) is closed at once, and the tunnel keeps accepting the next one.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Any

import paramiko

POLL_SECONDS = 0.1
OPEN_SECONDS = 10.0  # a host that does not answer a channel request within this is given up
CHUNK = 64 * 1024


class LocalForward:
    """A listener on 127.0.0.1:`port` relaying to 127.0.0.1:`remote_port` on the host."""

    def __init__(self, transport: paramiko.Transport, remote_port: int) -> None:
        self._transport = transport
        self._remote = ("127.0.0.1", remote_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(16)
        except OSError:
            self._listener.close()
            raise
        self.port: int = self._listener.getsockname()[1]
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name="tunnel", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            ready, _, _ = select.select([self._listener], [], [], POLL_SECONDS)
            if ready:
                try:
                    client, peer = self._listener.accept()
                except OSError:
                    return  # closed under us: the tunnel is ending
                self._spawn(self._relay, client, peer)

    def _relay(self, client: socket.socket, peer: tuple[str, int]) -> None:
        with client:
            try:
                channel = self._transport.open_channel(
                    "direct-tcpip", self._remote, peer, timeout=OPEN_SECONDS
                )
            except (paramiko.SSHException, OSError, EOFError):
                return  # refused or unreachable there: the client sees its connection closed
            with channel:
                pump(client, channel, self._closing)

    def close(self) -> None:
        self._closing.set()
        with contextlib.suppress(OSError):  # wakes the accept loop now, not at its next poll
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> LocalForward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pump(client: socket.socket, channel: paramiko.Channel, closing: threading.Event) -> None:
    """Copy bytes both ways until either side closes (or the tunnel does)."""
    other = {client: channel, channel: client}
    while not closing.is_set():
        ready, _, _ = select.select([client, channel], [], [], POLL_SECONDS)
        for side in ready:
            with contextlib.suppress(OSError):
                data = side.recv(CHUNK)
                if data:
                    other[side].sendall(data)
                    continue
            return  # one side closed (or failed): closing both ends the other's half too
