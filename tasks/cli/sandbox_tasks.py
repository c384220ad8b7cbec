"""`fab sandbox.*`: throwaway "fresh droplets" on this machine (tasks/sandbox/ makes them)."""

from __future__ import annotations

import os
import shlex
import time

from invoke import Context, Exit, task

from tasks import sandbox
from tasks.sandbox import SSH_CONFIG, SandboxError
from tasks.sandbox import agentopia as agentopia_droplet


def failed(exc: SandboxError) -> Exit:
    return Exit(f"sandbox: {exc}", code=1)


NAME_HELP = "sandbox name (container name, ssh_config Host); default: sandbox"


def port_flag(value: str | None, default: int, flag: str) -> int:
    """A port given on the command line (a string, so that a typo gets one clear line)."""
    if value is None:
        return default
    port = int(value) if str(value).isdigit() else 0
    if not 0 < port < 65536:
        raise Exit(f"sandbox: {flag} {value!r} is not a port (1-65535)", code=1)
    return port


@task(
    name="up",
    help={
        "name": NAME_HELP,
        "ssh_port": "port on 127.0.0.1 for SSH (default 2222)",
        "http_port": "port on 127.0.0.1 for the agent's 30000 (default 30000)",
        "agentopia": "provision it like Agentopia: dtma_manager (a stand-in old agent) and "
        "agentopia_backend linked to it, tokens in .sandbox/NAME/agentopia.env",
        "old_agent": "with --agentopia: serving (answers /health, /status; default) or crashloop",
        "image": "with --agentopia: the agent is this image instead, pulled by the droplet as "
        "Agentopia's user-data pulls DTMA_DOCKER_IMAGE_URL (e.g. what `fab publish` printed)",
        "engine": "classic (Docker 20.10, default) or containerd (a current Docker with the "
        "containerd image store, as Docker 29 droplets and Docker Desktop have)",
    },
)
def start_sandbox(
    c: Context,
    name="sandbox",
    ssh_port=None,
    http_port=None,
    agentopia=False,
    old_agent=None,
    engine=None,
    image=None,
) -> None:
    """Start a sandbox droplet (sshd + its own Docker engine) and say how to reach it."""
    ssh_port = port_flag(ssh_port, 2222, "--ssh-port")
    http_port = port_flag(http_port, 30000, "--http-port")
    if (old_agent is not None or image) and not agentopia:
        raise Exit("sandbox: --old-agent and --image go with --agentopia", code=1)
    old_agent = old_agent or "serving"
    if old_agent not in agentopia_droplet.OLD_AGENT_VARIANTS:
        raise Exit(f"sandbox: --old-agent {old_agent!r}: use serving or crashloop", code=1)
    try:
        if agentopia:
            provisioned = agentopia_droplet.up(
                name,
                ssh_port,
                http_port,
                old_agent,
                engine=engine or "classic",
                agent_image=image or "",
            )
            box = provisioned.sandbox
        else:
            box = sandbox.up(name, ssh_port, http_port, engine=engine or "classic")
    except SandboxError as exc:
        raise failed(exc) from None
    key = os.path.relpath(box.key_path)
    config = os.path.relpath(SSH_CONFIG)
    print(f"sandbox {name} is up ({box.engine} engine)")
    print(f"  fab -H {box.host} -i {key} <task>")
    print(f"  fab -S {config} -H {name} <task>")
    print(f"  ssh: fab sandbox.ssh --name {name}   agent: {box.agent_url}")
    if agentopia:
        print(
            f"provisioned like Agentopia: {agentopia_droplet.MANAGER} ("
            f"{'pulled' if image else old_agent + ' old agent'}, {provisioned.old_image}), "
            f"{agentopia_droplet.BACKEND} linked to it as dtma"
        )
        print(f"  its tokens: {os.path.relpath(provisioned.env_file)} (mode 0600, never printed)")


@task(name="down", help={"name": NAME_HELP})
def remove_sandbox(c: Context, name="sandbox") -> None:
    """Remove a sandbox droplet: container, engine volume and key; nothing stays behind."""
    try:
        sandbox.down(name)
    except SandboxError as exc:
        raise failed(exc) from None
    print(f"sandbox {name} removed")


@task(name="status")
def list_sandboxes(c: Context) -> None:
    """List the sandbox droplets: name, ports, container state, inner engine."""
    try:
        sandboxes = sandbox.find_all()
    except SandboxError as exc:
        raise failed(exc) from None
    if not sandboxes:
        print("no sandboxes (start one with `fab sandbox.up`)")
        return
    width = max(len(box.name) for box, _ in sandboxes)
    print(f"{'NAME':<{width}}  {'SSH':>5}  {'HTTP':>5}  {'STATE':<10} ENGINE")
    for box, state in sandboxes:
        engine = sandbox.engine_answers(box) if state == "running" else None
        print(
            f"{box.name:<{width}}  {box.ssh_port:>5}  {box.http_port:>5}  {state:<10} "
            f"{'docker ' + engine if engine else 'not answering'}"
        )


@task(name="reboot", help={"name": NAME_HELP})
def reboot_sandbox(c: Context, name="sandbox") -> None:
    """Reboot a sandbox droplet (docker restart) and time how long until SSH and Docker answer."""
    started = time.monotonic()
    try:
        sandbox.reboot(name)
    except SandboxError as exc:
        raise failed(exc) from None
    print(
        f"sandbox {name} rebooted: SSH and Docker answer after {time.monotonic() - started:.1f} s"
    )


@task(name="ssh", help={"name": NAME_HELP})
def ssh_into_sandbox(c: Context, name="sandbox") -> None:
    """Open an interactive SSH session on a sandbox droplet."""
    try:
        box = sandbox.find(name)
    except SandboxError as exc:
        raise failed(exc) from None
    if box is None:
        raise Exit(f"sandbox: no sandbox named {name}; start it with `fab sandbox.up`", code=1)
    argv = box.ssh_argv()
    print(shlex.join(argv))
    os.execvp(argv[0], argv)
