"""`python -m dtma`: serve on 0.0.0.0:$PORT; SIGTERM drains requests and exits 0."""

from __future__ import annotations

import logging
import signal
import sys

import uvicorn

from dtma.app import create_app
from dtma.config import Settings

GRACE_SECONDS = 8  # below Docker's default 10 s stop timeout, so we exit before SIGKILL


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


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
    logging.getLogger("dtma").info(
        "DTMA %s starting on port %d%s",
        settings.version,
        settings.port,
        f" (missing: {', '.join(settings.missing)})" if settings.missing else "",
    )
    config = uvicorn.Config(
        create_app(settings),
        host="0.0.0.0",
        port=settings.port,
        access_log=False,  # our middleware writes one line per request, without headers
        log_config=None,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
