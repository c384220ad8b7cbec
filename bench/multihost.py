"""`fab -H a,b,c deploy`: a code-only change to three droplets, against the same change to one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.figures import Measurement
from bench.runner import SandboxPool, Target, measure, ours_target, say
from bench.runner import describe as describe_measurement
from bench.stats import ratio
from bench.units import human_bytes, human_ratio
from tasks.sandbox import Sandbox


def multi_host(
    pool: SandboxPool,
    single: Target,
    deployed: list[Sandbox],
    env_file: Path,
    run_id: str,
    record: Callable[[Measurement], None],
) -> dict:
    """`single` is ours on its droplet; two more join it: from `deployed` (droplets ours has
    already deployed to, e.g. by the cold case) or fresh ones, deployed to first."""
    extra = deployed[:2]
    fresh = [pool.up(f"multi-{i}") for i in range(len(extra), 2)]
    if fresh:
        say(f"[multi] ours first deploy to {len(fresh)} more droplet(s) ...")
        warm = measure(ours_target(fresh, env_file, single.context), "setup", 0, "", probe=False)
        record(warm)
        say(f"[multi] {describe_measurement(warm)}")
        if warm.error:
            return {"error": warm.error}
        extra += fresh
    one = measure(single, "code", 1, f"{run_id} multi one", probe=False)
    say(f"[multi] one host: {describe_measurement(one)}")
    everyone = ours_target([*single.sandboxes, *extra], env_file, single.context)
    three = measure(everyone, "code", 1, f"{run_id} multi three", probe=False)
    say(f"[multi] three hosts: {describe_measurement(three)}")
    record(one)
    record(three)
    errors = [m.error for m in (one, three) if m.error]
    return {
        "change": "code-only",
        "one_host_seconds": one.wall_seconds,
        "three_hosts_seconds": three.wall_seconds,
        "three_over_one": ratio(three.wall_seconds, one.wall_seconds),
        "one_host_bytes": one.wire_bytes,
        "three_hosts_bytes": three.wire_bytes,
        "error": "; ".join(errors) or None,
    }


def render_multi(multi: dict) -> str:
    title = "three droplets, one `fab -H a,b,c deploy` (code-only change), ours"
    if multi.get("error"):
        return f"{title}: {multi['error']}"
    one, three = multi["one_host_seconds"], multi["three_hosts_seconds"]
    return (
        f"{title}:\n"
        f"  one host {one:.2f} s ({human_bytes(multi['one_host_bytes'])}), "
        f"three hosts {three:.2f} s ({human_bytes(multi['three_hosts_bytes'])} in total): "
        f"{human_ratio(multi['three_over_one'])} the time of one"
    )
