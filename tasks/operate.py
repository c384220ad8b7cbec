"""Day-two tasks on a deployed host: status, logs, restart, rollback, releases, prune, plan."""

from __future__ import annotations

import shlex
import time
from datetime import datetime
from typing import Any

import requests
from fabric import task

from tasks import commands, lock, pipeline, release, settings, verify
from tasks import report as reports
from tasks.errors import DeployError, host_keys, host_label
from tasks.executor import one_line_errors
from tasks.layers import plan_layers


def _image_ids(c: Any, s: settings.DeploySettings) -> dict[str, str]:
    """Image id used by the running and by the previous agent container."""
    ids = {}
    for name in (s.container, s.previous):
        state = verify.container_state(c, name)
        if state:
            ids[name] = state["Image"]
    return ids


def kept_releases(c: Any) -> list[tuple[str, str, str]]:
    """(image id, ref, created) of every dtma image on the host, newest first."""
    out = pipeline.run(c, "releases", shlex.join(commands.list_images(pipeline.REPOSITORY))).stdout
    rows = [line.split(" ", 2) for line in out.splitlines() if line.strip()]
    return [(row[0], row[1], row[2]) for row in rows if not row[1].endswith(":latest")]


@task(help={"keep": "how many releases to keep (default 3)"})
def releases(c, keep=None):
    """List the agent images kept on the host; mark the running and the previous one."""
    with one_line_errors():
        s = settings.load(c, keep_releases=keep)
        in_use = {image_id: name for name, image_id in _image_ids(c, s).items()}
        for index, (short_id, ref, created) in enumerate(kept_releases(c)):
            mark = next(
                (name for full, name in in_use.items() if full.split(":")[-1].startswith(short_id)),
                "",
            )
            beyond = "  (beyond keep)" if index >= s.keep_releases and not mark else ""
            print(f"{ref:<44} {short_id}  {created[:19]}  {mark}{beyond}")


@task(help={"keep": "how many releases to keep (default 3)"})
def prune(c, keep=None):
    """Remove agent images beyond the newest KEEP; never the running or previous one."""
    with one_line_errors():
        s = settings.load(c, keep_releases=keep)
        in_use = {image_id.split(":")[-1] for image_id in _image_ids(c, s).values()}
        with lock.held(c, s.lock_dir, s.lock_ttl):
            for short_id, ref, _ in kept_releases(c)[s.keep_releases :]:
                if any(full.startswith(short_id) for full in in_use):
                    continue
                result = c.run(shlex.join(commands.remove_image(ref)), hide=True, warn=True)
                print(f"{'removed' if result.ok else 'kept (in use)'} {ref}")


@task(
    help={
        "env_file": "env file with the backend key, to verify the restored agent (default .env)",
        "verify_url": "where the agent answers (default http://HOST:30000)",
    }
)
def rollback(c, env_file=None, verify_url=None):
    """Run the previous release again (the current one becomes the previous), then verify it."""
    with one_line_errors():
        s = pipeline.with_backend_key(c, settings.load(c, env_file=env_file, verify_url=verify_url))
        with lock.held(c, s.lock_dir, s.lock_ttl):
            release.switch_to_previous(c, s)
        config = (verify.container_state(c, s.container) or {}).get("Config", {})
        print(f"rolled back to {config.get('Image')}")
        version = (config.get("Labels") or {}).get("dtma.version", "")
        try:
            print(f"verify     {pipeline.verify_release(c, s, version)}")
        except verify.VerifyFailed as exc:
            raise DeployError(
                host_label(c),
                "rollback",
                str(exc),
                "see `fab logs`; `fab rollback` again undoes it",
            ) from None


@task(help={"verify_url": "where the agent answers (default http://HOST:30000)"})
def status(c, verify_url=None):
    """Container, image, version, uptime, Docker health and the public /status summary."""
    with one_line_errors():
        s = settings.load(c, verify_url=verify_url)
        state = verify.container_state(c, s.container)
        if state is None:
            raise DeployError(
                host_label(c), "status", f"no {s.container} container", "deploy first"
            )
        run_state, labels = state["State"], state["Config"].get("Labels") or {}
        started = datetime.fromisoformat(run_state["StartedAt"][:19] + "+00:00").timestamp()
        uptime = f"{time.time() - started:.0f} s" if run_state.get("Running") else "-"
        health = (run_state.get("Health") or {}).get("Status", "none")
        restarts = state.get("RestartCount", 0)
        print(f"container  {s.container} ({run_state['Status']}, restarts {restarts})")
        print(f"image      {state['Config']['Image']} version {labels.get('dtma.version', '?')}")
        print(f"uptime     {uptime}; docker health {health}")
        by = labels.get("dtma.deployed_by", "?")
        print(f"deployed   {labels.get('dtma.deployed_at', '?')} by {by}")
        url = s.agent_url(host_keys(c), c.host)
        try:
            body = requests.get(f"{url}/status", timeout=5).json()
            up = body.get("uptime_seconds")
            print(f"/status    {body.get('status')} version {body.get('version')} up {up} s")
        except (requests.RequestException, ValueError) as exc:
            print(f"/status    no answer at {url} ({type(exc).__name__})")


@task(help={"follow": "keep streaming new lines", "tail": "lines to show (default 100)"})
def logs(c, follow=False, tail=None):
    """The agent's log (no secrets by the agent's design)."""
    with one_line_errors():
        s = settings.load(c)
        # No int default: Invoke would then parse --tail itself and a typo would be a traceback.
        try:
            lines = 100 if tail is None else int(tail)
        except ValueError:
            raise settings.SettingsError(f"--tail {tail!r} is not a whole number") from None
        c.run(
            shlex.join(commands.logs(s.container, tail=lines, follow=follow)),
            pty=follow,
            warn=True,
        )


@task
def restart(c):
    """Restart the agent container in place, then check it stays up."""
    with one_line_errors():
        s = settings.load(c)
        with lock.held(c, s.lock_dir, s.lock_ttl):
            pipeline.run(c, "restart", shlex.join(commands.restart(s.container)))
            verify.check_stable(c, s.container, s.settle_seconds)
        print(f"{s.container} restarted and running")


@task(
    help={
        "context": "Docker build context (default: the project folder)",
        "dockerfile": "Dockerfile inside the context",
        "base_image": "base image for the build",
        "full": "plan a full transfer",
    }
)
def plan(c, context=None, dockerfile=None, base_image=None, full=False):
    """What deploy would do and send (layers, bytes), changing nothing on the host."""
    from tasks import ship as shipping

    with one_line_errors():
        s = settings.load(
            c, context=context, dockerfile=dockerfile, base_image=base_image, full=full or None
        )
        built = pipeline.build(s, quiet=True)
        chains = set() if s.full else shipping.host_chain_ids(c)
        layer_plan = plan_layers(built.diff_ids, chains, image_ref=built.ref)
        current = verify.container_state(c, s.container)
        print(f"host       {host_label(c)}")
        old = (current or {}).get("Config", {}).get("Image", "(none)")
        missing, total = len(layer_plan.missing), len(built.diff_ids)
        estimate = reports.human_bytes(int(built.size * missing / max(1, total)))
        print(f"image      {old} -> {built.ref}")
        print(f"layers     {missing} of {total} to send, {layer_plan.present} reused")
        print(f"estimate   up to {estimate} of {reports.human_bytes(built.size)} before gzip")
        print(f"steps      ship, env, candidate on 127.0.0.1:{s.candidate_port}, swap, verify")
