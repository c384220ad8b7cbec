"""What a deploy needs to know about a host, asked in one SSH round trip.

Docker answers, which image the agent runs, whether the new image and the env file are already
there, who holds the deploy lock, free disk, and who holds the agent's ports. Pure: the command
is built as a string and its answer parsed here; pipeline.py runs it and decides.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from tasks import commands

NO_DOCKER = "no docker command on the host"
UNKNOWN_OWNER = "unknown"  # the lock directory exists without an owner file


@dataclass(frozen=True)
class HostSurvey:
    docker_version: str = ""
    running_image_id: str = ""  # image id of the agent container ("" when there is none)
    running_ref: str = ""  # the image reference it was created from, e.g. dtma:abc1234
    running: bool = False
    health: str = ""  # Docker's health status of the agent ("" without a HEALTHCHECK)
    target_image_id: str = ""  # what the new image's tag resolves to on the host
    env_sha256: str = ""  # of the host's env file ("" when there is none)
    lock_owner: str = ""  # the lock's owner file, UNKNOWN_OWNER, or "" when the lock is free
    free_bytes: int | None = None  # on the Docker data root (or /)
    publishers: dict[int, list[str]] = field(default_factory=dict)  # port -> container names
    listeners: dict[int, bool] = field(default_factory=dict)  # port -> anything listening

    def up_to_date(self, image_id: str, env_sha256: str) -> bool:
        """The agent already runs exactly this image with exactly this env file."""
        return (
            self.running
            and self.health != "unhealthy"
            and bool(image_id)
            and self.running_image_id == image_id == self.target_image_id
            and bool(env_sha256)
            and self.env_sha256 == env_sha256
        )


def _line(key: str, command: str) -> str:
    return f'echo "{key}=$({command})"'


def survey_command(
    *, container: str, image_ref: str, env_file: str, lock_dir: str, ports: tuple[int, ...]
) -> str:
    """One shell line printing `key=value` lines; exits 127 when there is no docker command."""
    health = "{{if .State.Health}}{{.State.Health.Status}}{{end}}"
    fmt = "{{.Image}} {{.State.Running}} {{.Config.Image}} " + health
    owner = shlex.quote(f"{lock_dir}/owner")
    docker_root_df = commands.shell(commands.disk_free_kib("/var/lib/docker"))
    root_df = commands.shell(commands.disk_free_kib("/"))
    lines = [
        f"command -v docker >/dev/null || {{ echo '{NO_DOCKER}' >&2; exit 127; }}",
        _line("docker", commands.shell(commands.docker_version()) + " 2>/dev/null"),
        _line(
            "running",
            shlex.join(["docker", "container", "inspect", "--format", fmt, container])
            + " 2>/dev/null",
        ),
        _line("target", commands.shell(commands.image_inspect(image_ref)) + " 2>/dev/null"),
        _line("env", f"sha256sum {shlex.quote(env_file)} 2>/dev/null | cut -d' ' -f1"),
        _line(
            "lock",
            f"cat {owner} 2>/dev/null || {{ [ -d {shlex.quote(lock_dir)} ] && "
            f"echo {UNKNOWN_OWNER}; }}",
        ),
        _line(
            "free", f"{{ {docker_root_df} 2>/dev/null || {root_df}; }} | awk 'NR==2 {{print $4}}'"
        ),
    ]
    for port in ports:
        publishing = commands.shell(commands.containers_publishing(port))
        lines.append(_line(f"publish{port}", f"{publishing} | tr '\\n' ' '"))
        listening = commands.shell(commands.listening_on(port))
        lines.append(_line(f"listen{port}", f"{listening} 2>/dev/null | wc -l"))
    # Every query at once (each `docker` call is ~50 ms of client start-up): each prints one
    # short line in a single write, so the lines never interleave; their order does not matter.
    return f"{lines[0]}; " + " & ".join(f"{{ {line}; }}" for line in lines[1:]) + " & wait"


def parse_survey(text: str, ports: tuple[int, ...]) -> HostSurvey:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    running = values.get("running", "").split()
    free = values.get("free", "")
    return HostSurvey(
        docker_version=values.get("docker", ""),
        running_image_id=running[0] if running else "",
        running=len(running) > 1 and running[1] == "true",
        running_ref=running[2] if len(running) > 2 else "",
        health=running[3] if len(running) > 3 else "",
        target_image_id=values.get("target", ""),
        env_sha256=values.get("env", ""),
        lock_owner=values.get("lock", ""),
        free_bytes=int(free) * 1024 if free.isdigit() else None,
        publishers={port: values.get(f"publish{port}", "").split() for port in ports},
        listeners={port: values.get(f"listen{port}", "0") not in ("", "0") for port in ports},
    )
