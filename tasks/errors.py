"""The one error every deploy step raises: which host, which step, what went wrong, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class DeployError(Exception):
    """An expected failure. The task layer prints it as one line and exits non-zero."""

    host: str
    step: str
    cause: str
    hint: str = ""

    def __str__(self) -> str:
        line = f"{self.host}: {self.step} failed: {self.cause}"
        return f"{line} -> {self.hint}" if self.hint else line


def host_label(conn: Any) -> str:
    """How messages name a host: user@host:port, as given to -H."""
    return f"{conn.user}@{conn.host}:{conn.port}"


def host_keys(conn: Any) -> tuple[str, ...]:
    """Every way -H may have named this host, most specific first."""
    return (host_label(conn), f"{conn.host}:{conn.port}", f"{conn.user}@{conn.host}", conn.host)
