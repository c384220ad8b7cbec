"""Day-two tasks on a deployed host: status, logs, restart, rollback, releases, prune, plan."""

from __future__ import annotations

import time

from fabric import Connection, task

from tasks import settings
from tasks.cli.common import (
    HELP,
    HOST_KEY_FLAGS,
    help_for,
    host_key_flags,
    load_settings,
    one_line_errors,
    remote_of,
    settings_from,
)
from tasks.cli.executor import rollout_of
from tasks.fleet_hosts import roll_back
from tasks.steps import operate
from tasks.units import human_bytes

VERIFY_URL_HELP = "where the agent answers (default http://HOST:30000)"


@task(help=help_for("keep", *HOST_KEY_FLAGS))
def releases(c: Connection, keep=None, known_hosts=None, accept_new_host_key=False) -> None:
    """List the agent images kept on the host; mark the running and the previous one."""
    with one_line_errors():
        s = load_settings(c, keep_releases=keep, **host_key_flags(locals()))
        for kept in operate.kept_releases(remote_of(c, s), s):
            release = kept.release
            beyond = "  (beyond keep)" if kept.beyond_keep else ""
            print(
                f"{release.ref:<44} {release.short_id}  {release.created[:19]}  "
                f"{kept.used_by}{beyond}"
            )


@task(help=help_for("keep", *HOST_KEY_FLAGS))
def prune(c: Connection, keep=None, known_hosts=None, accept_new_host_key=False) -> None:
    """Remove agent images beyond the newest KEEP; never the running or previous one."""
    with one_line_errors():
        s = load_settings(c, keep_releases=keep, **host_key_flags(locals()))
        for ref, removed in operate.prune(remote_of(c, s), s):
            print(f"{'removed' if removed else 'kept (in use)'} {ref}")


@task(
    help={
        "env_file": "env file with the backend key, to verify the restored agent (default .env)",
        "verify_url": VERIFY_URL_HELP,
        **help_for("env_from_host", *HOST_KEY_FLAGS),
    }
)
def rollback(
    c: Connection,
    env_file=None,
    verify_url=None,
    env_from_host=False,
    known_hosts=None,
    accept_new_host_key=False,
) -> None:
    """Run the previous release again (the current one becomes the previous), then verify it."""
    with one_line_errors():
        s = settings_from(locals())
        restored, verified = roll_back(remote_of(c, s), s)  # the one a fleet's rollback-all runs
        print(f"rolled back to {restored.image_ref if restored else None}")
        print(f"verify     {verified}")


@task(help={"verify_url": VERIFY_URL_HELP, **help_for(*HOST_KEY_FLAGS)})
def status(c: Connection, verify_url=None, known_hosts=None, accept_new_host_key=False) -> None:
    """Container, image, version, uptime, Docker health and the public /status summary."""
    with one_line_errors():
        s = settings_from(locals())
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


@task(
    help={
        "follow": "keep streaming new lines",
        "tail": "lines to show (default 100)",
        **help_for(*HOST_KEY_FLAGS),
    }
)
def logs(
    c: Connection, follow=False, tail=None, known_hosts=None, accept_new_host_key=False
) -> None:
    """The agent's log (no secrets by the agent's design)."""
    with one_line_errors():
        s = load_settings(c, **host_key_flags(locals()))
        # No int default: Invoke would then parse --tail itself and a typo would be a traceback.
        try:
            lines = 100 if tail is None else int(tail)
        except ValueError:
            raise settings.SettingsError(f"--tail {tail!r} is not a whole number") from None
        operate.show_logs(remote_of(c, s), s, lines, follow)


@task(help=help_for(*HOST_KEY_FLAGS))
def restart(c: Connection, known_hosts=None, accept_new_host_key=False) -> None:
    """Restart the agent container in place, then check it stays up."""
    with one_line_errors():
        s = load_settings(c, **host_key_flags(locals()))
        operate.restart(remote_of(c, s), s)
        print(f"{s.container} restarted and running")


@task(
    help={
        "context": HELP["context"],
        "dockerfile": "Dockerfile inside the context",
        "base_image": "base image for the build",
        "full": "plan a full transfer",
        **help_for(*HOST_KEY_FLAGS),
    }
)
def plan(
    c: Connection,
    context=None,
    dockerfile=None,
    base_image=None,
    full=False,
    known_hosts=None,
    accept_new_host_key=False,
) -> None:
    """What deploy would do and send (layers, bytes), changing nothing on the host."""
    with one_line_errors():
        s = settings_from(locals())
        planned = operate.plan(remote_of(c, s), s, rollout_of(c).built)
        layers, built = planned.layers, planned.built
        estimate = human_bytes(planned.estimate_bytes)
        print(f"host       {planned.host}")
        print(f"image      {planned.running_ref} -> {built.ref}")
        missing, total = len(layers.missing), len(built.diff_ids)
        print(f"layers     {missing} of {total} to send, {layers.present} reused")
        print(f"estimate   up to {estimate} of {human_bytes(built.size)} before gzip")
        print(f"steps      ship, env, candidate on 127.0.0.1:{s.candidate_port}, swap, verify")
