"""`python -m dtma`: serve on 0.0.0.0:$PORT; SIGTERM drains requests and exits 0.

The order is for a fast start: the port is opened first, then uvicorn (a fifth of a second)
serves `/health` while the web stack and the Docker SDK load behind it (see dtma.bootstrap).
"""

from __future__ import annotations

import logging
import signal
import socket
import sys

from dtma.config import Settings

BACKLOG = 2048  # uvicorn's default


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def listen(port: int) -> socket.socket:
    """The listening socket, opened before anything else is imported: during a redeploy, clients
    that connect meanwhile wait in the backlog instead of being refused.

    IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    without it every answer on a kept-alive connection waited ~40 ms for a delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # uvicorn stops gracefully on SIGTERM, then re-raises the signal with the handler that was
    # installed before it started: this one, so a clean stop exits 0 instead of 143.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    settings = Settings.from_env()
    sock = listen(settings.port)
    logging.getLogger("dtma").info(
        "DTMA %s starting on port %d%s",
        settings.version,
        settings.port,
        f" (missing: {', '.join(settings.missing)})" if settings.missing else "",
    )
    from dtma.serving import serve  # uvicorn: imported once the port takes connections

    serve(settings, sock)


if __name__ == "__main__":
    main()
