"""Day-two steps on a deployed host: status, releases, prune, restart, logs, plan.

Each returns what it found; the cli decides how to print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from tasks.commands import docker
from tasks.errors import DeployError
from tasks.facts.container import ContainerState, read_container
from tasks.facts.host_images import Release, read_image_store, read_releases
from tasks.layers import LayerPlan, plan_layers
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps import lock
from tasks.steps.agent_checks import public_status
from tasks.steps.build import BuildKey, BuiltImage, build
from tasks.steps.preflight import REPOSITORY
from tasks.steps.ship import reusable_chain_ids
from tasks.steps.verify import check_stable


def in_use(remote: Remote, s: DeploySettings) -> dict[str, str]:
    """Image id used by the running and by the previous agent container."""
    ids = {}
    for name in (s.container, s.previous):
        state = read_container(remote, name, step="releases")
        if state:
            ids[name] = state.image_id
    return ids


@dataclass(frozen=True)
class KeptRelease:
    release: Release
    used_by: str  # the container running it ("" when none)
    beyond_keep: bool  # older than the newest `keep_releases` and unused: prune removes it


def kept_releases(remote: Remote, s: DeploySettings) -> list[KeptRelease]:
    """Every agent image on the host, newest first, marked with who uses it."""
    users = {image_id.split(":")[-1]: name for name, image_id in in_use(remote, s).items()}
    kept = []
    for index, release in enumerate(read_releases(remote, REPOSITORY)):
        used_by = next(
            (name for full, name in users.items() if full.startswith(release.short_id)), ""
        )
        kept.append(KeptRelease(release, used_by, index >= s.keep_releases and not used_by))
    return kept


def prune(remote: Remote, s: DeploySettings) -> list[tuple[str, bool]]:
    """Remove agent images beyond the newest `keep_releases`, never one in use.
    Returns (ref, removed) for each image tried."""
    tried = []
    with lock.held(remote, s.lock_dir, s.lock_ttl):
        for kept in kept_releases(remote, s):
            if kept.beyond_keep:
                ref = kept.release.ref
                done = remote.run(docker.remove_image(ref), step="prune", check=False)
                tried.append((ref, done.ok))
    return tried


@dataclass(frozen=True)
class AgentStatus:
    container: ContainerState
    url: str
    public: dict[str, Any] | None  # the public /status body; None when it did not answer
    error: str = ""  # why it did not answer


def status(remote: Remote, s: DeploySettings) -> AgentStatus:
    state = read_container(remote, s.container, step="status")
    if state is None:
        raise DeployError(remote.host, "status", f"no {s.container} container", "deploy first")
    url = s.agent_url(remote.keys, remote.hostname)
    try:
        return AgentStatus(state, url, public_status(url))
    except (requests.RequestException, ValueError) as exc:
        return AgentStatus(state, url, None, type(exc).__name__)


def restart(remote: Remote, s: DeploySettings) -> None:
    """Restart the agent in place, then check it stays up."""
    with lock.held(remote, s.lock_dir, s.lock_ttl):
        remote.run(docker.restart(s.container), step="restart")
        check_stable(remote, s.container, s.settle_seconds)


def show_logs(remote: Remote, s: DeploySettings, lines: int, follow: bool) -> None:
    remote.stream(docker.logs(s.container, tail=lines, follow=follow), step="logs", pty=follow)


@dataclass(frozen=True)
class DeployPlan:
    host: str
    running_ref: str  # "(none)" on a fresh host
    built: BuiltImage
    layers: LayerPlan

    @property
    def estimate_bytes(self) -> int:
        """Layer sizes are known only once saved: the missing share of the image."""
        total = len(self.built.diff_ids)
        return int(self.built.size * len(self.layers.missing) / max(1, total))


def plan(
    remote: Remote, s: DeploySettings, build_cache: dict[BuildKey, BuiltImage] | None = None
) -> DeployPlan:
    """What deploy would send, changing nothing on the host."""
    built = build(s, cache=build_cache, quiet=True)
    store = read_image_store(remote)
    chains = set() if s.full else reusable_chain_ids(remote, store, built.ref)
    current = read_container(remote, s.container, step="plan")
    return DeployPlan(
        host=remote.host,
        running_ref=current.image_ref if current else "(none)",
        built=built,
        layers=plan_layers(built.diff_ids, chains, image_ref=built.ref),
    )
