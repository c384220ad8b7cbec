"""`python -m dtma`: the agent. SIGTERM: listeners close at once, accepted connections are served
for DTMA_DRAIN_GRACE s (default 0.5; less once none is left), requests in flight finish; exit 0.

Without DTMA_CHECK_PORT: serve 0.0.0.0:$PORT. The port is opened first, then uvicorn (a fifth of
a second) serves `/health` while the web stack and the Docker SDK load behind it (dtma.bootstrap).

With DTMA_CHECK_PORT (handover mode, two releases on the host network at once): serve only
127.0.0.1:$DTMA_CHECK_PORT (a second candidate on it fails at once), and open 0.0.0.0:$PORT once
the app is loaded and the release is promoted: SIGUSR1, or its container's restart policy is
always/unless-stopped at start (dtma.promotion, dtma.agent_server).

Both share the public port with another release (SO_REUSEPORT, dtma.listeners).
"""

from __future__ import annotations

import logging
import signal
import sys

from dtma.config import Settings
from dtma.healthcheck import record_serving_port
from dtma.listeners import listen_check, listen_public
from dtma.promotion import Promotion

log = logging.getLogger("dtma")


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _missing_note(settings: Settings) -> str:
    return f" (missing: {', '.join(settings.missing)})" if settings.missing else ""


def serve_public(settings: Settings) -> None:
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # already public: nothing to promote
    try:
        sock = listen_public(settings.port)
    except OSError as exc:
        log.error("cannot listen on 0.0.0.0:%d: %s", settings.port, exc.strerror or exc)
        sys.exit(1)
    record_serving_port(settings.port)
    note = _missing_note(settings)
    log.info("DTMA %s starting on port %d%s", settings.version, settings.port, note)
    from dtma.serving import serve  # uvicorn: imported once the port takes connections

    serve(settings, sock)


def serve_handover(settings: Settings, check_port: int) -> None:
    promotion = Promotion()
    promotion.listen_for_signal()  # before anything else can take time: SIGUSR1 kills by default
    try:
        sock = listen_check(check_port)
    except OSError as exc:
        log.error(
            "cannot listen on check port 127.0.0.1:%d (%s): is another candidate running? exiting",
            check_port,
            exc.strerror or exc,
        )
        sys.exit(2)
    record_serving_port(check_port)
    log.info(
        "DTMA %s starting in handover mode: checks on 127.0.0.1:%d, public port %d once "
        "promoted (SIGUSR1, or restart policy always/unless-stopped)%s",
        settings.version,
        check_port,
        settings.port,
        _missing_note(settings),
    )
    from dtma.agent_server import Handover
    from dtma.serving import serve

    serve(settings, sock, Handover(public_port=settings.port, promotion=promotion))


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
    if "DTMA_CHECK_PORT" in settings.invalid:
        log.error("DTMA_CHECK_PORT is not a port number: exiting (a candidate must not go public)")
        sys.exit(2)
    if settings.check_port is None:
        serve_public(settings)
    else:
        serve_handover(settings, settings.check_port)


if __name__ == "__main__":
    main()
