"""adopt: take over a droplet whose port is held by a DTMA container we did not create
(Agentopia's `dtma_manager`), keeping its tokens and every `--link dtma_manager:dtma` working.

The adopted container is stopped and kept as the previous release, untouched otherwise, so
`fab rollback` gives it back exactly (`give_back`). Its name goes to a forwarder: a container on
the default bridge that relays its port to the agent on the host's network, so containers that
reach the agent by link name still do. A running engine keeps a link pointed at the container it
resolved first; only an engine restart resolves links by name again, so when containers link to
the name, the engine is restarted with live-restore (no container stops).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dtma.config import REQUIRED
from dtma.tool_views import MANAGED_BY
from tasks.commands import docker, scripts
from tasks.commands.shell import chain
from tasks.envfile import EnvFile
from tasks.errors import DeployError
from tasks.facts.container import ContainerState, read_container
from tasks.runner import Remote
from tasks.settings import DeploySettings

FORWARDER_ROLE = "forwarder"


@dataclass(frozen=True)
class Adoptee:
    state: ContainerState
    linked_by: tuple[tuple[str, str], ...]  # (container, alias) of every `--link name:alias`

    def describe(self) -> str:
        s = self.state
        links = said(self.linked_by) or "no container"
        return (
            f"{s.name}: image {s.image_ref or s.image_id}, created {s.created[:19]}, "
            f"restart {s.restart_policy}, {s.status}; linked from {links}"
        )


def is_adopted(state: ContainerState) -> bool:
    """A release the deploy did not make. Its image may carry our version label (Agentopia
    running a published image does); only a release of ours has the labels `docker run` got."""
    return not state.released


def linked_by(remote: Remote, name: str) -> tuple[tuple[str, str], ...]:
    found = remote.run(scripts.linked_to(name), step="preflight", check=False).stdout
    return tuple((w[0], w[1]) for w in (line.split() for line in found.splitlines()) if len(w) == 2)


def said(links: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{who} (as {alias})" for who, alias in links)


def survey(remote: Remote, name: str) -> Adoptee:
    state = read_container(remote, name, step="preflight")
    if state is None:
        raise DeployError(remote.host, "preflight", f"container {name} vanished", "redeploy")
    return Adoptee(state, linked_by(remote, name))


def check_relink(remote: Remote, adoptee: Adoptee) -> None:
    """Relinking restarts the engine: refuse, before anything changes, where no systemd unit
    would bring it back (an engine that stayed down would leave the droplet with no agent)."""
    if not adoptee.linked_by:
        return
    supervised = remote.run(scripts.engine_under_systemd(), step="preflight", check=False)
    if not supervised.ok:
        raise DeployError(
            remote.host,
            "preflight",
            f"{said(adoptee.linked_by)} link to {adoptee.state.name}; relinking them restarts "
            "the Docker engine, and no systemd `docker` unit runs it here to bring it back",
            "restart the engine yourself with live-restore on (so containers keep running), "
            "then deploy with --adopt again; nothing was changed",
        )


def env_from(remote: Remote, name: str) -> EnvFile:
    """The agent's three settings from a container's environment: over SSH's stdout into memory,
    never printed, never on a command line."""
    found = remote.run(
        ["docker", "container", "inspect", "--format", "{{json .Config.Env}}", name],
        step="env",
    )
    pairs = dict(item.split("=", 1) for item in json.loads(found.stdout or "[]") if "=" in item)
    missing = [key for key in REQUIRED if not pairs.get(key)]
    if missing:
        raise DeployError(
            remote.host,
            "env",
            f"container {name} has no {', '.join(missing)} in its environment",
            "deploy with --env-file instead of --env-from-host",
        )
    return EnvFile(path=f"{remote.host}:{name}", values={key: pairs[key] for key in REQUIRED})


def forwarder_labels(adoptee: ContainerState) -> dict[str, str]:
    return {
        "dtma.role": FORWARDER_ROLE,
        "dtma.adopted_name": adoptee.name,
        "dtma.adopted_restart": adoptee.restart_policy,
    }


def install_forwarder(remote: Remote, s: DeploySettings, adoptee: Adoptee, image: str) -> bool:
    """The adopted container's name now belongs to a forwarder to the agent. True when the
    engine was restarted to relink: a container started before that may hold a Docker socket
    that is gone (an engine without socket activation makes a new one)."""
    name = adoptee.state.name
    create = docker.create_forwarder(name, image, forwarder_labels(adoptee.state), s.port)
    remote.run(create, step="adopt", hint="`fab rollback` undoes it")
    # Relinked first, started next: the engine rewrites a linked container's /etc/hosts when
    # the container its link points to starts.
    if adoptee.linked_by:
        relink(remote, name, adoptee.linked_by)
    remote.run(docker.start(name), step="adopt", hint="`fab rollback` undoes it")
    if adoptee.linked_by:
        point_links_at(remote, name, adoptee.linked_by)
    return bool(adoptee.linked_by)


def point_links_at(remote: Remote, target: str, links: tuple[tuple[str, str], ...]) -> None:
    """Each linked container's /etc/hosts names `target`'s address: the engine only rewrites
    entries a container already has, and one started while its link target was down (a crash
    loop) has none."""
    pairs = [word for pair in links for word in pair]
    remote.run(scripts.link_hosts(target, pairs), step="relink", hint="`fab rollback` undoes it")


def relink(remote: Remote, target: str, links: tuple[tuple[str, str], ...]) -> None:
    who = said(links)
    print(f"{remote.host}: restarting the Docker engine (live-restore) to relink {who}")
    done = remote.run(scripts.restart_engine(), step="relink", check=False)
    if not done.ok:
        raise DeployError(
            remote.host,
            "relink",
            done.last_line() or "the engine restart failed",
            f"the agent serves; {who} keep their link until the engine restarts "
            "(enable live-restore, then `systemctl restart docker`)",
        )


def forwarder(remote: Remote) -> ContainerState | None:
    """The relay an adoption left. A tool image may carry the relay's labels: a container the
    agent made for a tool (it carries the agent's tool label) is never the relay."""
    listed = remote.run(
        ["docker", "ps", "-a", "--filter", f"label=dtma.role={FORWARDER_ROLE}", "-q"],
        step="rollback",
        check=False,
    )
    for container_id in listed.stdout.split():
        state = read_container(remote, container_id, step="rollback")
        if state and MANAGED_BY not in state.labels:
            return state
    return None


def give_back(
    remote: Remote, s: DeploySettings, previous: ContainerState, *, keep_ours: bool
) -> str:
    """The adopted container runs again under its own name and restart policy; ours is kept as
    the previous release (or removed). Returns the adopted container's name."""
    relay = forwarder(remote)
    name = relay.labels.get("dtma.adopted_name", "") if relay else ""
    if relay is None or not name:
        raise DeployError(
            remote.host, "rollback", "no forwarder records the adopted container's name", "inspect"
        )
    policy = relay.labels.get("dtma.adopted_restart") or "always"
    steps = [
        docker.stop_for_good(s.container),
        docker.remove(relay.name),
        docker.rename(previous.name, name),
        docker.set_restart(name, policy),
        docker.rename(s.container, s.previous) if keep_ours else docker.remove(s.container),
    ]
    remote.run(chain(*steps), step="rollback")
    # Relinked before it starts: it then mounts the engine's socket as it is after the restart.
    links = linked_by(remote, name)
    if links:
        relink(remote, name, links)
    remote.run(docker.start(name), step="rollback")
    if links:
        point_links_at(remote, name, links)
    return name
