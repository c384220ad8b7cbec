"""`fab deploy` and its steps, each also a task of its own."""

from __future__ import annotations

from fabric import Connection

from tasks.cli.common import (
    FLEET_FLAGS,
    HOST_KEY_FLAGS,
    LongFleetFlags,
    host_task,
)
from tasks.cli.executor import drives_fleet, rollout_of
from tasks.fleet.rollout import Rollout
from tasks.fleet.run import connection, deploy_fleet, fleet_hosts
from tasks.runner import remote_of
from tasks.settings import DeploySettings
from tasks.steps import lock
from tasks.steps.build import build, source_version
from tasks.steps.deploy import release_existing_image, run_deploy
from tasks.steps.env import install_env
from tasks.steps.preflight import REPOSITORY, load_env, with_backend_key
from tasks.steps.report import DeployReport
from tasks.steps.ship import ship
from tasks.steps.verify import verify_running
from tasks.units import human_bytes

DEPLOY_FLAGS = (
    "env_file",
    "context",
    "dockerfile",
    "base_image",
    "verify_url",
    "verify_timeout",
    "full",
    "registry",
    "force_unlock",
    "restart_anyway",
    "adopt",
    "env_from_host",
    "replace_token",
    *HOST_KEY_FLAGS,
    *FLEET_FLAGS,
)


@host_task(*DEPLOY_FLAGS, klass=LongFleetFlags)
def deploy(c: Connection, s: DeploySettings) -> None:
    """Build, ship missing layers, check a candidate, hand over, verify; roll back on failure.
    Several hosts: the canaries alone, then --parallel at a time (docs/fleets.md)."""
    run = rollout_of(c)
    if run.cli_hosts is None:  # called with a Connection (not through DeployExecutor)
        deploy_one(c, s, run)
        return
    hosts, source = fleet_hosts(s, run.cli_hosts)
    if len(hosts) == 1 and not (s.hosts_file or s.do_tag):
        deploy_one(connection(c, hosts[0]), s, run)
    else:
        deploy_fleet(c, s, hosts, source, run)


drives_fleet(deploy)


def deploy_one(c: Connection, s: DeploySettings, run: Rollout) -> None:
    """One host, as always: its steps, its report table, one error line."""
    remote = remote_of(c, s)
    rep = DeployReport(host=remote.host)
    try:
        run_deploy(remote, s, rep, build_cache=run.built)
    except Exception:
        run.record(remote.keys, rep.outcome, rep.error or "")
        raise
    url = s.agent_url(remote.keys, remote.hostname)
    run.record(remote.keys, rep.outcome, f"{rep.version} answers at {url}")


@host_task("context", "dockerfile", "base_image")
def build_image(c: Connection, s: DeploySettings) -> None:
    """Build the agent image dtma:<version> (and dtma:latest) on this machine."""
    built = build(s, cache=rollout_of(c).built)
    print(f"built {built.ref} ({built.image_id[7:19]}, {human_bytes(built.size)})")


@host_task("context", "dockerfile", "base_image", "full", *HOST_KEY_FLAGS)
def ship_image(c: Connection, s: DeploySettings) -> None:
    """Build if needed and send the image to the host (only the layers it lacks)."""
    built = build(s, cache=rollout_of(c).built)
    print(ship(remote_of(c, s), built.ref, stage_dir=s.stage_dir, full=s.full).summary())


@host_task("env_file", *HOST_KEY_FLAGS)
def install_env_file(c: Connection, s: DeploySettings) -> None:
    """Install the local env file on the host as /etc/dtma/dtma.env (root, 0600, atomic)."""
    remote = remote_of(c, s)
    loaded = load_env(s, remote.host)
    with lock.held(remote, s.lock_dir, s.lock_ttl):
        print(f"env file installed, sha256 {install_env(remote, s, loaded)}")


@host_task("image", "env_file", "context", "verify_url", "verify_timeout", *HOST_KEY_FLAGS)
def release_image(c: Connection, s: DeploySettings, image: str | None) -> None:
    """Candidate check, handover and verify an image already on the host; roll back on failure."""
    remote = remote_of(c, s)
    s = with_backend_key(s, remote)
    ref = image or f"{REPOSITORY}:{source_version(s)}"
    print(release_existing_image(remote, s, ref, ref.split(":", 1)[1]))


@host_task("env_file", "env_from_host", "verify_url", "verify_timeout", *HOST_KEY_FLAGS)
def verify_agent(c: Connection, s: DeploySettings) -> None:
    """Check the running agent as the backend would: health, /status, auth, stability."""
    remote = remote_of(c, s)
    print(verify_running(remote, with_backend_key(s, remote)))
