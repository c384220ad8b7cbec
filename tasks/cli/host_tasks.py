"""Day-two tasks on a deployed host: status, logs, restart, rollback, releases, prune, plan."""

from __future__ import annotations

import time

from fabric import Connection

from tasks import settings
from tasks.cli.common import HOST_KEY_FLAGS, host_task
from tasks.cli.executor import rollout_of
from tasks.fleet.hosts import roll_back
from tasks.runner import remote_of
from tasks.settings import DeploySettings
from tasks.steps import operate
from tasks.units import human_bytes

VERIFY_URL_HELP = "where the agent answers (default http://HOST:30000)"


@host_task("keep", *HOST_KEY_FLAGS)
def releases(c: Connection, s: DeploySettings) -> None:
    """List the agent images kept on the host; mark the running and the previous one."""
    for kept in operate.kept_releases(remote_of(c, s), s):
        release = kept.release
        beyond = "  (beyond keep)" if kept.beyond_keep else ""
        print(
            f"{release.ref:<44} {release.short_id}  {release.created[:19]}  {kept.used_by}{beyond}"
        )


@host_task("keep", *HOST_KEY_FLAGS)
def prune(c: Connection, s: DeploySettings) -> None:
    """Remove agent images beyond the newest KEEP; never the running or previous one."""
    for ref, removed in operate.prune(remote_of(c, s), s):
        print(f"{'removed' if removed else 'kept (in use)'} {ref}")


@host_task(
    "env_file",
    "verify_url",
    "env_from_host",
    *HOST_KEY_FLAGS,
    help={
        "env_file": "env file with the backend key, to verify the restored agent (default .env)",
        "verify_url": VERIFY_URL_HELP,
    },
)
def rollback(c: Connection, s: DeploySettings) -> None:
    """Run the previous release again (the current one becomes the previous), then verify it."""
    restored, verified = roll_back(remote_of(c, s), s)  # the one a fleet's rollback-all runs
    print(f"rolled back to {restored.image_ref if restored else None}")
    print(f"verify     {verified}")


@host_task("verify_url", *HOST_KEY_FLAGS, help={"verify_url": VERIFY_URL_HELP})
def status(c: Connection, s: DeploySettings) -> None:
    """Container, image, version, uptime, Docker health and the public /status summary."""
    found = operate.status(remote_of(c, s), s)
    state, labels = found.container, found.container.labels
    uptime = f"{time.time() - state.started_timestamp():.0f} s" if state.running else "-"
    print(f"container  {state.name} ({state.status}, restarts {state.restart_count})")
    print(f"image      {state.image_ref} version {labels.get('dtma.version', '?')}")
    print(f"uptime     {uptime}; docker health {state.health}")
    by = labels.get("dtma.deployed_by", "?")
    print(f"deployed   {labels.get('dtma.deployed_at', '?')} by {by}")
    if found.public is None:
        print(f"/status    no answer at {found.url} ({found.error})")
    else:
        body = found.public
        up = body.get("uptime_seconds")
        print(f"/status    {body.get('status')} version {body.get('version')} up {up} s")


@host_task("follow", "tail", *HOST_KEY_FLAGS)
def logs(c: Connection, s: DeploySettings, follow: bool, tail: str | None) -> None:
    """The agent's log (no secrets by the agent's design)."""
    # No int default: Invoke would then parse --tail itself and a typo would be a traceback.
    try:
        lines = 100 if tail is None else int(tail)
    except ValueError:
        raise settings.SettingsError(f"--tail {tail!r} is not a whole number") from None
    operate.show_logs(remote_of(c, s), s, lines, follow)


@host_task(*HOST_KEY_FLAGS)
def restart(c: Connection, s: DeploySettings) -> None:
    """Restart the agent container in place, then check it stays up."""
    operate.restart(remote_of(c, s), s)
    print(f"{s.container} restarted and running")


@host_task("context", "dockerfile", "base_image", "full", *HOST_KEY_FLAGS)
def plan(c: Connection, s: DeploySettings) -> None:
    """What deploy would do and send (layers, bytes), changing nothing on the host."""
    planned = operate.plan(remote_of(c, s), s, rollout_of(c).built)
    layers, built = planned.layers, planned.built
    estimate = human_bytes(planned.estimate_bytes)
    print(f"host       {planned.host}")
    print(f"image      {planned.running_ref} -> {built.ref}")
    missing, total = len(layers.missing), len(built.diff_ids)
    print(f"layers     {missing} of {total} to send, {layers.present} reused")
    print(f"estimate   up to {estimate} of {human_bytes(built.size)} before gzip")
    print(f"steps      ship, env, candidate on 127.0.0.1:{s.candidate_port}, swap, verify")
