"""A sandbox droplet provisioned like Agentopia provisions its toolbox droplets.

Agentopia's provisioning runs two `docker run` lines on every droplet: the agent as
`dtma_manager` (port 30000, the Docker socket, `--restart always`, the three DTMA variables) and
the backend as `agentopia_backend`, linked to it (`--link dtma_manager:dtma`). Here the same two
lines run in a sandbox droplet's own engine, as a user-data script would (written over SFTP,
run, removed), with stand-in images (tasks/agentopia_images.py) and fresh random values for the
three variables. The values are kept on this machine only, in `.sandbox/<name>/agentopia.env`
(mode 0600, git-ignored, the env-file format `fab deploy --env-file` reads), so tests know what
the old container was given. They are never printed.
"""

from __future__ import annotations

import os
import secrets
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from tasks import envfile, sandbox
from tasks.commands import docker as docker_commands
from tasks.errors import DeployError
from tasks.sandbox import agentopia_images
from tasks.sandbox.agentopia_images import OLD_AGENT_VARIANTS, StandinImageError
from tasks.sandbox.droplet import Sandbox, SandboxError, docker_client, key_dir

MANAGER = "dtma_manager"
BACKEND = "agentopia_backend"
ENV_FILE_NAME = "agentopia.env"
TOKEN_NAMES = ("DTMA_BEARER_TOKEN", "AGENTOPIA_API_BASE_URL", "BACKEND_TO_DTMA_API_KEY")
# Where cloud-init keeps user-data scripts; the script holds the tokens, so it is removed after.
USER_DATA = "/var/lib/cloud/instance/scripts/agentopia-provision.sh"
LINK_RACE = "Cannot link to a non running container"
LINK_RETRY_SECONDS = 30.0
PUBLISHED = "published"  # the agent is an image pulled from a registry, not a stand-in

__all__ = [
    "BACKEND",
    "MANAGER",
    "OLD_AGENT_VARIANTS",
    "TOKEN_NAMES",
    "AgentopiaDroplet",
    "env_file_path",
    "provision",
    "read_tokens",
    "up",
]


@dataclass(frozen=True)
class AgentopiaDroplet:
    sandbox: Sandbox
    old_agent: str  # "serving" or "crashloop"
    old_image: str
    backend_image: str
    env_file: Path  # the three values the old container was given (0600)

    @property
    def name(self) -> str:
        return self.sandbox.name

    def tokens(self) -> dict[str, str]:
        """The values from the env file. Secrets: compare them, never print them."""
        return read_tokens(self.env_file)


def env_file_path(name: str) -> Path:
    return key_dir(name) / ENV_FILE_NAME


def read_tokens(path: Path) -> dict[str, str]:
    return envfile.parse(path.read_text(), str(path)).values


def new_tokens() -> dict[str, str]:
    """Random per droplet; the backend URL points at a loopback port where nothing listens, so
    an agent that heartbeats with it sends nothing off this machine."""
    return {
        "DTMA_BEARER_TOKEN": secrets.token_hex(32),
        "AGENTOPIA_API_BASE_URL": f"http://127.0.0.1:9/agentopia-{secrets.token_hex(6)}/functions/v1",
        "BACKEND_TO_DTMA_API_KEY": secrets.token_hex(32),
    }


def write_env_file(path: Path, tokens: dict[str, str]) -> None:
    """KEY=value lines, created 0600 before anything is written, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(
            "# The values Agentopia's stand-in provisioning gave this droplet's dtma_manager.\n"
        )
        handle.writelines(f"{key}={tokens[key]}\n" for key in TOKEN_NAMES)
    partial.replace(path)


def manager_line(tokens: dict[str, str], image: str) -> list[str]:
    """Agentopia's first line: the agent as dtma_manager."""
    return [
        "docker", "run", "-d", "--name", MANAGER, "--restart", "always", "-p", "30000:30000",
        "-v", "/var/run/docker.sock:/var/run/docker.sock",
        *(arg for key in TOKEN_NAMES for arg in ("-e", f"{key}={tokens[key]}")),
        "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
        image,
    ]  # fmt: skip


def backend_line(tokens: dict[str, str], image: str) -> list[str]:
    """Agentopia's second line: the backend, linked to dtma_manager as `dtma`."""
    return [
        "docker", "run", "-d", "--name", BACKEND, "--restart", "always", "-p", "3000:3000",
        "--link", f"{MANAGER}:dtma", "-e", "DTMA_URL=http://dtma:30000",
        "-e", f"BACKEND_TO_DTMA_API_KEY={tokens['BACKEND_TO_DTMA_API_KEY']}",
        image,
    ]  # fmt: skip


def user_data(*lines: list[str], first: str = "") -> str:
    body = first + "".join(shlex.join(line) + "\n" for line in lines)
    return f"#!/bin/sh\n# Agentopia's droplet provisioning (stand-in images)\nset -e\n{body}"


def masked(text: str, tokens: dict[str, str]) -> str:
    for value in tokens.values():
        text = text.replace(value, "***")
    return text


def run_user_data(box: Sandbox, script: str, tokens: dict[str, str]) -> tuple[bool, str]:
    """Write the script into the droplet (root, 0700), run it, remove it: (ok, last line)."""
    remote = box.remote()
    try:
        remote.run(["mkdir", "-p", "-m", "0700", str(Path(USER_DATA).parent)], step="agentopia")
        remote.run(["install", "-m", "0700", "/dev/null", USER_DATA], step="agentopia")
        remote.write_file(USER_DATA, script.encode(), step="agentopia")
        try:
            done = remote.run(["sh", USER_DATA], step="agentopia", check=False, timeout=120)
        finally:
            remote.run(["rm", "-f", USER_DATA], step="agentopia", check=False)
    except DeployError as exc:
        raise SandboxError(f"sandbox {box.name}: {masked(exc.cause, tokens)}") from None
    finally:
        remote.close()
    return done.ok, masked(done.last_line(), tokens)


def existing(box: Sandbox) -> AgentopiaDroplet | None:
    """The droplet as provisioned before (both containers and the env file there), else None."""
    names = box.remote()
    try:
        done = names.run(
            ["docker", "inspect", "-f", "{{.Config.Image}}", MANAGER, BACKEND],
            step="agentopia",
            check=False,
        )
    finally:
        names.close()
    images = done.stdout.split()
    if not done.ok or len(images) != 2 or not env_file_path(box.name).exists():
        return None
    standin = images[0].startswith(agentopia_images.OLD_AGENT["serving"].repository + ":")
    variant = images[0].partition(":")[2].partition("-")[0] if standin else PUBLISHED
    return AgentopiaDroplet(box, variant, images[0], images[1], env_file_path(box.name))


def provision(box: Sandbox, old_agent: str = "serving", agent_image: str = "") -> AgentopiaDroplet:
    """Run Agentopia's two lines in `box` (a droplet without them) with stand-in images; with
    `agent_image` (what DTMA_DOCKER_IMAGE_URL names, e.g. `fab publish`'s reference), the agent
    is that image, pulled by the droplet first as Agentopia's user-data pulls it."""
    if agent_image:
        old_agent = PUBLISHED
    found = existing(box)
    if found is not None:
        if found.old_agent != old_agent:
            raise SandboxError(
                f"sandbox {box.name} already runs the {found.old_agent} old agent; "
                f"`fab sandbox.down --name {box.name}` first"
            )
        return found
    client = docker_client()
    try:
        old_image, backend_image = agentopia_images.ensure_images(
            client, "serving" if agent_image else old_agent
        )
        old_image = agent_image or old_image
        for tag in (backend_image,) if agent_image else (old_image, backend_image):
            agentopia_images.load_into_droplet(box.name, tag)
    except StandinImageError as exc:
        raise SandboxError(str(exc)) from None
    tokens = new_tokens()
    env_file = env_file_path(box.name)
    write_env_file(env_file, tokens)
    pull = [docker_commands.pull(agent_image)] if agent_image else []
    lines = (*pull, manager_line(tokens, old_image), backend_line(tokens, backend_image))
    ok, why = run_user_data(box, user_data(*lines), tokens)
    # A crash-looping dtma_manager is briefly "not running" between its exits and restarts; a
    # backend created in that instant fails to start. Agentopia's script would just fail there;
    # the stand-in runs the backend's line again so that the droplet always ends up the same.
    deadline = time.monotonic() + LINK_RETRY_SECONDS
    while not ok and LINK_RACE in why and time.monotonic() < deadline:
        time.sleep(0.2)
        retry = user_data(
            backend_line(tokens, backend_image),
            first=f"docker rm -f {BACKEND} >/dev/null || true\n",
        )
        ok, why = run_user_data(box, retry, tokens)
    if not ok:
        raise SandboxError(f"sandbox {box.name}: Agentopia's provisioning failed: {why}")
    return AgentopiaDroplet(box, old_agent, old_image, backend_image, env_file)


def up(
    name: str = "sandbox",
    ssh_port: int = 2222,
    http_port: int = 30000,
    old_agent: str = "serving",
    *,
    engine: str = "classic",
    quiet: bool = False,
    agent_image: str = "",
) -> AgentopiaDroplet:
    """A sandbox droplet (started or found) provisioned like Agentopia's toolbox droplets."""
    if old_agent not in OLD_AGENT_VARIANTS and not agent_image:
        raise SandboxError(
            f"unknown old agent {old_agent!r}: use one of {', '.join(OLD_AGENT_VARIANTS)}"
        )
    box = sandbox.up(name, ssh_port, http_port, engine=engine, quiet=quiet)
    return provision(box, old_agent, agent_image)
