"""Running tasks over several hosts: one build shared, one-line errors, a per-host summary.

Fabric runs a task once per `-H` host, in order, and stops at the first that raises Exit.
`DeployExecutor` (named in fabric.yaml as `tasks.executor_class`) gives the run one Rollout,
which the tasks find in their config, and prints which hosts were deployed, which failed and
which were never reached. A task marked `drives_fleet` (deploy) is called once instead, with
the -H hosts in the Rollout: it makes its own connections and runs the hosts itself.
"""

from __future__ import annotations

from typing import Any

from fabric.executor import Executor

from tasks.fleet.rollout import Rollout

ROLLOUT_KEY = "dtma_rollout"


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


def drives_fleet(task: Any) -> Any:
    """Mark a task that takes every host at once (see DeployExecutor.expand_calls)."""
    task.drives_fleet = True
    return task


class DeployExecutor(Executor):
    def expand_calls(self, calls: list[Any], apply_hosts: bool = True) -> list[Any]:
        if not apply_hosts:
            return super().expand_calls(calls, apply_hosts)
        host_str = self.core[0].args.hosts.value or ""
        expanded = []
        for call in calls:
            if getattr(getattr(call, "task", call), "drives_fleet", False):
                rollout_of(self).cli_hosts = [h for h in host_str.split(",") if h]
                expanded.append(call)  # once, without a host: it runs them itself
            else:
                expanded.extend(super().expand_calls([call], apply_hosts))
        return expanded

    def execute(self, *tasks: Any) -> Any:
        rollout = Rollout()
        self.config[ROLLOUT_KEY] = rollout
        try:
            return super().execute(*tasks)
        finally:
            hosts = [h for h in (self.core[0].args.hosts.value or "").split(",") if h]
            if rollout.outcomes and len(hosts) > 1:
                print(summary(hosts, rollout.outcomes), flush=True)
