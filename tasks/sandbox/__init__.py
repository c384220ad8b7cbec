"""Sandbox droplets: throwaway "fresh servers" on this machine, reachable over real SSH on
127.0.0.1: start, find, reboot and remove them (the `fab sandbox.*` tasks are in tasks/cli).

A development and demo tool, beside the deploy core: used only by the CLI, the tests and the
bench. This module is its public face (up, down, reboot, find, the ssh_config); behind it:
    droplet.py           one droplet: its container, whether it answers
    engines.py           the kinds of droplet: Debian, Docker, image store, what each is made of
    host_keys.py         the droplets' SSH host keys, recorded in .sandbox/known_hosts
    agentopia.py         a droplet provisioned as Agentopia's user-data does it
    agentopia_images.py  the old agents and backend stand-in images that provisioning runs
    registry.py          a registry on this machine (TLS from a throwaway CA, htpasswd)
May import the deploy core (tasks/ root modules); never tasks/fleet/ or tasks/cli/.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import docker

from tasks.sandbox import host_keys as sandbox_host_keys
from tasks.sandbox.droplet import (
    KNOWN_HOSTS,
    LABEL,
    STATE_DIR,
    Sandbox,
    SandboxError,
    docker_client,
    engine_answers,
    ensure_droplet_image,
    ensure_key,
    find,
    find_all,
    from_labels,
    get_container,
    key_dir,
    port_is_free,
    run_argv,
    volume_name,
    volume_names,
    wait_until_ready,
)
from tasks.sandbox.engines import ENGINES

# What the tests, the bench and the cli use of a sandbox, in one import.
__all__ = [
    "SSH_CONFIG",
    "Sandbox",
    "SandboxError",
    "down",
    "engine_answers",
    "find",
    "find_all",
    "key_dir",
    "reboot",
    "run_argv",
    "ssh_config_text",
    "up",
    "volume_name",
    "volume_names",
]

SSH_CONFIG = STATE_DIR / "ssh_config"
# A Docker container name that is also a plain ssh_config Host.
VALID_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def up(
    name: str = "sandbox",
    ssh_port: int = 2222,
    http_port: int = 30000,
    *,
    engine: str = "classic",
    quiet: bool = False,
) -> Sandbox:
    """Start (or find) the sandbox `name` and return it once SSH and its engine answer.
    `engine`: classic (Docker 20.10) or containerd (the containerd image store)."""
    if not VALID_NAME.fullmatch(name):
        raise SandboxError(f"bad sandbox name {name!r}: use letters, digits, '.', '_' or '-'")
    if engine not in ENGINES:
        raise SandboxError(f"no engine kind {engine!r}: use {' or '.join(ENGINES)}")
    client = docker_client()
    container = get_container(client, name)
    if container is not None and LABEL not in container.labels:
        raise SandboxError(f"a container named {name} exists and is not a sandbox; pick --name")
    if container is not None and not (key_dir(name) / "id_ed25519").exists():
        raise SandboxError(
            f"the key of sandbox {name} is gone; `fab sandbox.down --name {name}`, then up again"
        )
    key_path, public_key = ensure_key(name)
    wanted = Sandbox(name, ssh_port, http_port, key_path, engine)
    if container is not None:
        existing = from_labels(container)
        if existing != wanted:
            raise SandboxError(
                f"sandbox {name} already exists ({existing.engine} engine, ports "
                f"{existing.ssh_port}/{existing.http_port}); use it as it is or "
                f"`fab sandbox.down --name {name}` first"
            )
        if container.status != "running":
            container.start()
    else:
        for port in (ssh_port, http_port):
            if not port_is_free(port):
                raise SandboxError(f"port {port} on 127.0.0.1 is already in use; pick another port")
        ensure_droplet_image(client, engine, quiet=quiet)
        started = subprocess.run(
            run_argv(name, ssh_port, http_port, key_path, engine),
            env={**os.environ, "SANDBOX_AUTHORIZED_KEY": public_key},
            capture_output=True,
            text=True,
            check=False,
        )
        if started.returncode != 0:
            raise SandboxError(f"sandbox {name}: docker run failed: {started.stderr.strip()}")
    wait_until_ready(wanted)
    write_ssh_config()
    return wanted


def down(name: str = "sandbox") -> None:
    """Remove the sandbox's container, its engine volumes and its key folder."""
    client = docker_client()
    container = get_container(client, name)
    if container is not None:
        if LABEL not in container.labels:
            raise SandboxError(f"container {name} is not a sandbox; not removing it")
        sandbox_host_keys.forget(KNOWN_HOSTS, from_labels(container).ssh_port)
        container.remove(force=True, v=True)
    for volume in volume_names(name):
        with contextlib.suppress(docker.errors.NotFound):
            client.volumes.get(volume).remove(force=True)
    shutil.rmtree(key_dir(name), ignore_errors=True)
    write_ssh_config()


def reboot(name: str = "sandbox") -> Sandbox:
    """`docker restart` the droplet (a real reboot) and wait until SSH and the engine answer."""
    sandbox = find(name)
    if sandbox is None:
        raise SandboxError(f"no sandbox named {name}; start it with `fab sandbox.up --name {name}`")
    # 20 s lets the inner engine stop its containers cleanly, like a real reboot.
    docker_client().containers.get(name).restart(timeout=20)
    wait_until_ready(sandbox)
    return sandbox


def ssh_config_text(sandboxes: list[Sandbox]) -> str:
    blocks = [
        f"Host {s.name}\n"
        f"    HostName 127.0.0.1\n"
        f"    Port {s.ssh_port}\n"
        f"    User root\n"
        f"    IdentityFile {s.key_path}\n"
        f"    IdentitiesOnly yes\n"
        f"    StrictHostKeyChecking yes\n"
        f"    UserKnownHostsFile {KNOWN_HOSTS}\n"
        f"    LogLevel ERROR\n"
        for s in sandboxes
    ]
    return "# Written by `fab sandbox.up`: one entry per sandbox droplet.\n" + "\n".join(blocks)


def write_ssh_config() -> Path:
    """Rewrite .sandbox/ssh_config from the sandboxes that exist now."""
    STATE_DIR.mkdir(exist_ok=True)
    # Write then rename: a reader never sees half a file, even with sandboxes coming and going.
    partial = SSH_CONFIG.with_name(f".ssh_config.{os.getpid()}")
    partial.write_text(ssh_config_text([s for s, _ in find_all()]))
    partial.replace(SSH_CONFIG)
    return SSH_CONFIG
