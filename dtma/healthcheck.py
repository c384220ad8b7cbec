"""`python -m dtma.healthcheck`: the image's HEALTHCHECK. Exit 0 when the agent answers
`GET /health` with 200 on the port it serves now, 1 otherwise. Standard library only.

The agent records that port in a file (DTMA_SERVING_FILE, default /run/dtma-serving-port): a
candidate in handover mode serves only its check port (127.0.0.1:DTMA_CHECK_PORT) until it is
promoted, then the public port. Without the file (the agent has not started yet) the public
port, $PORT, is checked.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

SERVING_FILE_ENV = "DTMA_SERVING_FILE"
DEFAULT_SERVING_FILE = "/run/dtma-serving-port"
TIMEOUT_SECONDS = 2.0


def serving_file(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get(SERVING_FILE_ENV) or DEFAULT_SERVING_FILE)


def record_serving_port(port: int, env: Mapping[str, str] = os.environ) -> None:
    """Write `port` atomically; a failure to write only weakens the healthcheck, so it is not
    fatal (the caller logs nothing: the healthcheck then checks $PORT)."""
    path = serving_file(env)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_text(f"{port}\n")
        os.replace(temporary, path)
    except OSError:
        pass


def port_to_check(env: Mapping[str, str] = os.environ) -> int:
    try:
        return int(serving_file(env).read_text().strip())
    except (OSError, ValueError):
        return int(env.get("PORT") or 30000)


def main() -> int:
    url = f"http://127.0.0.1:{port_to_check()}/health"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            ok = answer.status == 200
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
