"""Running tasks over several hosts: one-line errors and a per-host summary at the end.

Fabric runs a task once per `-H` host, in order, and stops at the first that raises Exit.
`DeployExecutor` (named in fabric.yaml as `tasks.executor_class`) prints which hosts were
deployed, which failed, and which were never reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fabric.executor import Executor
from invoke.exceptions import Exit

from tasks.errors import DeployError
from tasks.settings import SettingsError

OUTCOMES: dict[str, tuple[str, str]] = {}


def record_host(keys: tuple[str, ...], outcome: str, detail: str) -> None:
    """Keep the outcome under every name -H may have used for the host (see host_keys)."""
    for key in keys:
        OUTCOMES[key] = (outcome, detail)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Expected failures end the task with one line and exit code 1; bugs keep their traceback."""
    from tasks.ship import ShipError  # ship pulls in the Docker SDK; only load it when needed

    try:
        yield
    except (DeployError, ShipError, SettingsError) as exc:
        raise Exit(f"error: {exc}", code=1) from None


def summary(hosts: list[str], outcomes: dict[str, tuple[str, str]]) -> str:
    """One line per host given to -H, in order; hosts never reached say so."""
    lines = ["summary:"]
    for host in hosts:
        outcome, detail = outcomes.get(host, ("untouched", "not reached: an earlier host failed"))
        lines.append(f"  {host:<28} {outcome:<12} {detail}")
    return "\n".join(lines)


class DeployExecutor(Executor):
    def execute(self, *tasks: Any) -> Any:
        try:
            return super().execute(*tasks)
        finally:
            hosts = [h for h in (self.core[0].args.hosts.value or "").split(",") if h]
            if OUTCOMES and len(hosts) > 1:
                print(summary(hosts, OUTCOMES), flush=True)
