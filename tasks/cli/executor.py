"""Running tasks over several hosts: one build shared, one-line errors, a per-host summary.

Fabric runs a task once per `-H` host, in order, and stops at the first that raises Exit.
`DeployExecutor` (named in fabric.yaml as `tasks.executor_class`) gives the run one Rollout,
which the tasks find in their config, and prints which hosts were deployed, which failed and
which were never reached.
"""

from __future__ import annotations

from typing import Any

from fabric.executor import Executor

from tasks.steps.build import BuildKey, BuiltImage

ROLLOUT_KEY = "dtma_rollout"


class Rollout:
    """What one `fab` run shares across its hosts: the images built, each host's outcome."""

    def __init__(self) -> None:
        self.built: dict[BuildKey, BuiltImage] = {}
        self.outcomes: dict[str, tuple[str, str]] = {}

    def __copy__(self) -> Rollout:
        # Invoke copies config values when it merges its layers; a run has one Rollout.
        return self

    def record(self, keys: tuple[str, ...], outcome: str, detail: str) -> None:
        """Keep the outcome under every name -H may have used for the host."""
        for key in keys:
            self.outcomes[key] = (outcome, detail)


def rollout_of(c: Any) -> Rollout:
    """The run's Rollout, or a fresh one when the tasks run without DeployExecutor."""
    found = c.config.get(ROLLOUT_KEY, None) if hasattr(c, "config") else None
    return found if isinstance(found, Rollout) else Rollout()


def summary(hosts: list[str], outcomes: dict[str, tuple[str, str]]) -> str:
    """One line per host given to -H, in order; hosts never reached say so."""
    lines = ["summary:"]
    for host in hosts:
        outcome, detail = outcomes.get(host, ("untouched", "not reached: an earlier host failed"))
        lines.append(f"  {host:<28} {outcome:<12} {detail}")
    return "\n".join(lines)


class DeployExecutor(Executor):
    def execute(self, *tasks: Any) -> Any:
        rollout = Rollout()
        self.config[ROLLOUT_KEY] = rollout
        try:
            return super().execute(*tasks)
        finally:
            hosts = [h for h in (self.core[0].args.hosts.value or "").split(",") if h]
            if rollout.outcomes and len(hosts) > 1:
                print(summary(hosts, rollout.outcomes), flush=True)
