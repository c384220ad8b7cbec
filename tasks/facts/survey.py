"""What a deploy needs to know about a host, asked in one SSH round trip.

Docker answers, which image the agent runs, whether the new image and the env file are already
there, who holds the deploy lock, free disk, and who holds the agent's ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tasks import identity
from tasks.commands import scripts
from tasks.facts.host_images import parse_image_store
from tasks.runner import Remote


@dataclass(frozen=True)
class HostSurvey:
    docker_version: str = ""
    running_image_id: str = ""  # image id of the agent container ("" when there is none)
    running_ref: str = ""  # the image reference it was created from, e.g. dtma:abc1234
    running: bool = False
    network_mode: str = ""  # of the agent container: "host" for agents that hand over
    health: str = ""  # Docker's health status of the agent ("" without a HEALTHCHECK)
    target_image_id: str = ""  # what the new image's tag resolves to on the host
    target_fingerprint: str = ""  # of that image (tasks/identity.py), "" when the host lacks it
    image_store: str = ""  # "classic" or "containerd"
    platform: str = ""  # the host's, e.g. linux/amd64
    env_sha256: str = ""  # of the host's env file ("" when there is none)
    lock_owner: str = ""  # the lock's owner file, UNKNOWN_OWNER, or "" when the lock is free
    free_bytes: int | None = None  # on the Docker data root (or /)
    publishers: dict[int, list[str]] = field(default_factory=dict)  # port -> container names
    listeners: dict[int, bool] = field(default_factory=dict)  # port -> anything listening
    adoptee: str = ""  # a container not ours publishing the agent's port, to be adopted

    def up_to_date(self, fingerprint: str, env_sha256: str) -> bool:
        """The agent already runs exactly this image with exactly this env file."""
        return (
            self.running
            and self.health != "unhealthy"
            and bool(fingerprint)
            and self.target_fingerprint == fingerprint
            and self.running_image_id == self.target_image_id
            and bool(env_sha256)
            and self.env_sha256 == env_sha256
        )


def parse_survey(text: str, ports: Sequence[int]) -> HostSurvey:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    running = values.get("running", "").split()
    target_id, _, target = values.get("target", "").partition(" ")
    inspected = identity.parse_inspect_line(target)
    free = values.get("free", "")
    return HostSurvey(
        docker_version=values.get("docker", ""),
        running_image_id=running[0] if running else "",
        running=len(running) > 1 and running[1] == "true",
        running_ref=running[2] if len(running) > 2 else "",
        network_mode=running[3] if len(running) > 3 else "",
        health=running[4] if len(running) > 4 else "",
        target_image_id=target_id if inspected else "",
        target_fingerprint=identity.fingerprint(inspected) if inspected else "",
        image_store=parse_image_store(values.get("store", "")),
        platform=f"linux/{identity.docker_arch(machine)}"
        if (machine := values.get("machine"))
        else "",
        env_sha256=values.get("env", ""),
        lock_owner=values.get("lock", ""),
        free_bytes=int(free) * 1024 if free.isdigit() else None,
        publishers={port: values.get(f"publish{port}", "").split() for port in ports},
        listeners={port: values.get(f"listen{port}", "0") not in ("", "0") for port in ports},
    )


def read_survey(
    remote: Remote,
    *,
    container: str,
    image_ref: str,
    env_file: str,
    lock_dir: str,
    ports: Sequence[int],
) -> HostSurvey:
    argv = scripts.survey(
        container=container, image_ref=image_ref, env_file=env_file, lock_dir=lock_dir, ports=ports
    )
    hint = "install Docker Engine and start it (systemctl start docker)"
    return parse_survey(remote.run(argv, step="preflight", hint=hint).stdout, ports)
