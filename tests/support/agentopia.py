"""Sandbox droplets provisioned like Agentopia's (tasks/agentopia.py), for tests: the
fixtures, and what a test reads from such a droplet.

Everything is read through the droplet's own engine with `docker exec <droplet> docker ...` on
this machine. The three DTMA values are secrets even here: compare them with `mismatched_env`
(names only), never with an assert that would print them.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from tasks import sandbox
from tasks.sandbox import agentopia
from tasks.sandbox.agentopia import BACKEND, MANAGER, AgentopiaDroplet
from tests.support.ports import free_port
from tests.support.readiness import DEADLINE_SECONDS, wait_until
from tests.support.sandboxes import ENGINE

AGENT_HEALTH = "http://dtma:30000/health"

Droplet = AgentopiaDroplet | sandbox.Sandbox | str


def _name(droplet: Droplet) -> str:
    return droplet if isinstance(droplet, str) else droplet.name


def agentopia_for_tests(
    prefix: str = "standin", old_agent: str = "serving"
) -> Iterator[AgentopiaDroplet]:
    """`yield from` this in a fixture: a droplet with a unique name and free loopback ports,
    removed (container, engine volume, key and token file) even when provisioning failed."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    try:
        yield agentopia.up(name, free_port(), free_port(), old_agent, engine=ENGINE, quiet=True)
    finally:
        sandbox.down(name)


@pytest.fixture(scope="module")
def agentopia_droplet() -> Iterator[AgentopiaDroplet]:
    """A droplet whose dtma_manager is the serving old agent, and agentopia_backend."""
    yield from agentopia_for_tests(old_agent="serving")


@pytest.fixture(scope="module")
def agentopia_crashloop_droplet() -> Iterator[AgentopiaDroplet]:
    """A droplet whose dtma_manager exits at once and is restarted forever (--restart always)."""
    yield from agentopia_for_tests(old_agent="crashloop")


def droplet_docker(
    droplet: Droplet, argv: Sequence[str], *, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """`docker ARGV` run by the droplet's own engine (not checked: read returncode)."""
    return subprocess.run(
        ["docker", "exec", _name(droplet), "docker", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def exec_in_backend(
    droplet: Droplet, argv: Sequence[str], *, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """`docker exec agentopia_backend ARGV` inside the droplet (not checked)."""
    return droplet_docker(droplet, ["exec", BACKEND, *argv], timeout=timeout)


def backend_reaches_agent(
    droplet: Droplet, url: str = AGENT_HEALTH, *, deadline: float = DEADLINE_SECONDS
) -> str:
    """The body of `url` (the agent as the backend sees it, through its link) fetched from
    inside agentopia_backend, once it answers; NotReady after `deadline`."""
    # The static busybox's wget segfaults with -T: `timeout` bounds each try instead. A refused
    # or unresolved try is "not yet".
    argv = ["timeout", "15", "wget", "-qO-", url]

    def fetched() -> str | None:
        done = exec_in_backend(droplet, argv, timeout=20)
        return done.stdout if done.returncode == 0 and done.stdout else None

    return wait_until(fetched, f"{url} from inside {BACKEND}", deadline=deadline, poll=0.2)


def inspect(droplet: Droplet, *names: str) -> list[dict]:
    """`docker inspect` of containers in the droplet ([] when one is missing)."""
    done = droplet_docker(droplet, ["inspect", *names])
    return json.loads(done.stdout) if done.returncode == 0 else []


def container_env(droplet: Droplet, name: str) -> dict[str, str]:
    """A container's configured environment (Config.Env, without what links add) in the
    droplet. Holds secrets: do not print."""
    found = inspect(droplet, name)
    if not found:
        raise AssertionError(f"no container {name} in {_name(droplet)}")
    return dict(item.partition("=")[::2] for item in found[0]["Config"]["Env"] or [])


def backend_process_env(droplet: Droplet) -> dict[str, str]:
    """The environment of a process in agentopia_backend: its own variables plus what its link
    adds (`DTMA_PORT_*`, and the target's variables as `DTMA_ENV_*`). Holds secrets."""
    done = exec_in_backend(droplet, ["env"])
    if done.returncode != 0:
        raise AssertionError(f"env in {BACKEND} failed: {done.stderr.strip()[-200:]}")
    return dict(line.partition("=")[::2] for line in done.stdout.splitlines() if "=" in line)


def mismatched_env(env: dict[str, str], expected: dict[str, str]) -> list[str]:
    """Names of the expected variables missing or different in `env`; never their values."""
    return [key for key, value in expected.items() if env.get(key) != value]


@dataclass(frozen=True)
class Link:
    container: str  # the container holding the link (e.g. agentopia_backend)
    alias: str  # the name it gives the target (dtma)
    target: str  # the container the engine resolves it to now (dtma_manager)


def links(droplet: Droplet) -> list[Link]:
    """Every legacy link in the droplet, as `docker inspect` shows it (the engine's in-memory
    view: after a rename of the target it names the renamed container)."""
    ids = droplet_docker(droplet, ["ps", "-aq"]).stdout.split()
    found = []
    for info in inspect(droplet, *ids) if ids else []:
        for entry in info["HostConfig"].get("Links") or []:
            target, _, path = entry.partition(":")  # "/dtma_manager:/agentopia_backend/dtma"
            _, container, alias = path.split("/")
            found.append(Link(container, alias, target.lstrip("/")))
    return found


@dataclass(frozen=True)
class ManagerFacts:
    image: str
    restart_policy: str
    state: str  # running, restarting, exited, ...
    restart_count: int
    created: str
    started_at: str
    linked_from: list[Link]  # the links whose target is dtma_manager


def dtma_manager_facts(droplet: Droplet, name: str = MANAGER) -> ManagerFacts:
    found = inspect(droplet, name)
    if not found:
        raise AssertionError(f"no container {name} in {_name(droplet)}")
    info = found[0]
    return ManagerFacts(
        image=info["Config"]["Image"],
        restart_policy=info["HostConfig"]["RestartPolicy"]["Name"],
        state=info["State"]["Status"],
        restart_count=info["RestartCount"],
        created=info["Created"],
        started_at=info["State"]["StartedAt"],
        linked_from=[link for link in links(droplet) if link.target == name],
    )
