"""The images a host holds: its image store, its layer chains, and the agent's releases."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tasks import identity
from tasks.commands import docker, scripts
from tasks.errors import DeployError
from tasks.layers import all_chain_ids
from tasks.runner import Remote


def parse_image_store(stdout: str) -> str:
    """'containerd' for the containerd image store (snapshotters), else 'classic'."""
    driver, _, status = stdout.strip().partition("|")
    if "io.containerd.snapshotter" in status or driver in {"overlayfs", "stargz", "nydus"}:
        return "containerd"
    return "classic"


def parse_layer_lists(stdout: str) -> list[list[str]]:
    return [json.loads(line) or [] for line in stdout.splitlines() if line.startswith(("[", "n"))]


def parse_df_available(stdout: str) -> int:
    """Available bytes from `df -PB1` (POSIX format: 4th column of the last line)."""
    return int(stdout.strip().splitlines()[-1].split()[3])


@dataclass(frozen=True)
class Release:
    """One agent image kept on the host, as `docker image ls` lists it."""

    short_id: str
    ref: str
    created: str


def parse_releases(stdout: str) -> list[Release]:
    """Every tagged agent image except the moving `latest` tag, newest first (as listed)."""
    rows = [line.split(" ", 2) for line in stdout.splitlines() if line.strip()]
    return [Release(*row) for row in rows if len(row) == 3 and not row[1].endswith(":latest")]


def read_image_store(remote: Remote) -> str:
    """'classic' or 'containerd'; also the first proof that SSH and the host's Docker work."""
    result = remote.run(docker.engine_info(), step="docker", check=False)
    if result.exit_code == 127:
        raise DeployError(remote.host, "docker", "docker is not installed", "install Docker Engine")
    if not result.ok:
        hint = "start the host's Docker engine (systemctl start docker)"
        raise DeployError(remote.host, "docker", result.last_line(), hint)
    return parse_image_store(result.stdout)


def read_chain_ids(remote: Remote, repository: str | None = None) -> set[str]:
    """Chain id of every layer prefix of every image the host holds (of `repository`'s)."""
    result = remote.run(scripts.host_layers(repository), step="host layers", check=False)
    # An image deleted between `ls` and `inspect` fails only that one; the rest still count.
    if not result.ok and "No such image" not in result.stderr:
        hint = "check `docker image ls` on the host"
        raise DeployError(remote.host, "host layers", result.last_line(), hint)
    return all_chain_ids(parse_layer_lists(result.stdout))


def read_fingerprint(remote: Remote, ref: str) -> str:
    """The fingerprint of the host's image `ref` (tasks/identity.py), "" when it lacks one."""
    result = remote.run(docker.image_identity(ref), step="host image", check=False)
    inspected = identity.parse_inspect_line(result.stdout) if result.ok else None
    return identity.fingerprint(inspected) if inspected else ""


def read_releases(remote: Remote, repository: str) -> list[Release]:
    return parse_releases(remote.run(docker.list_images(repository), step="releases").stdout)
