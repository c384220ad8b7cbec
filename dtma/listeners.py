"""The agent's listening sockets. Standard library only: used before the port answers.

- The public port (0.0.0.0:PORT) is opened with SO_REUSEADDR and SO_REUSEPORT, set before bind,
  so two releases of the agent can listen on it at the same time during a handover: the kernel
  spreads new connections over both, and when one closes its socket (with
  net.ipv4.tcp_migrate_req=1) the connections still waiting in its queue move to the other.
- The check port (127.0.0.1:DTMA_CHECK_PORT) is opened WITHOUT SO_REUSEPORT: a second candidate
  started by mistake cannot share it and fails at once.

IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without
it every answer on a kept-alive connection waited ~40 ms for a delayed ACK.
"""

from __future__ import annotations

import errno
import socket

BACKLOG = 2048  # uvicorn's default


def _tcp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _listen(sock: socket.socket, address: tuple[str, int]) -> socket.socket:
    try:
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listen_public(port: int) -> socket.socket:
    """0.0.0.0:port, shareable with another agent (SO_REUSEPORT). Raises OSError as bind does."""
    sock = _tcp_socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return _listen(sock, ("0.0.0.0", port))


def listen_check(port: int) -> socket.socket:
    """127.0.0.1:port, not shareable: a second agent on the same check port gets EADDRINUSE."""
    return _listen(_tcp_socket(), ("127.0.0.1", port))


def try_listen_public(port: int) -> socket.socket | None:
    """The public listener, or None while the port is held by a socket that does not share it
    (an older agent without SO_REUSEPORT, a docker-proxy). Other errors are raised."""
    try:
        return listen_public(port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return None
        raise
