"""`fab demo`: the whole job on this machine — sandbox droplet up, deploy, smoke suite."""

from __future__ import annotations

import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from invoke import Context, Exit, task

from tasks import sandbox
from tasks.cli.sandbox_tasks import port_flag
from tasks.sandbox.droplet import KNOWN_HOSTS

BIN = Path(sys.executable).parent
# The sandbox has no backend to talk to: its heartbeat goes to a loopback port where nothing
# listens (inside the agent's own container), so it backs off quietly and no traffic leaves.
DEMO_BACKEND_URL = "http://127.0.0.1:9/functions/v1"


def demo_env_file(box: sandbox.Sandbox) -> Path:
    """An env file with fresh random tokens for this sandbox, made once, readable by root only."""
    path = box.key_path.parent / "demo.env"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(
            f"DTMA_BEARER_TOKEN={secrets.token_hex(32)}\n"
            f"BACKEND_TO_DTMA_API_KEY={secrets.token_hex(32)}\n"
            f"AGENTOPIA_API_BASE_URL={DEMO_BACKEND_URL}\n"
        )
    return path


@task(
    help={
        "name": "sandbox droplet name (default: sandbox)",
        "ssh_port": "loopback port for the sandbox's SSH (default: 2222)",
        "http_port": "loopback port where the sandbox publishes the agent's 30000 (default: 30000)",
        "engine": "the sandbox's engine: containerd (default: the containerd image store, as "
        "Docker 29 droplets have) or classic (Docker 20.10)",
    }
)
def demo(
    c: Context,
    name: str = "sandbox",
    ssh_port: str | None = None,
    http_port: str | None = None,
    engine: str = "containerd",
) -> None:
    """Sandbox droplet up -> `fab deploy` into it -> smoke suite against it."""
    try:
        box = sandbox.up(
            name=name,
            ssh_port=port_flag(ssh_port, 2222, "--ssh-port"),
            http_port=port_flag(http_port, 30000, "--http-port"),
            engine=engine,
        )
    except sandbox.SandboxError as exc:
        raise Exit(f"demo: {exc}", code=1) from None
    env_file = demo_env_file(box)
    deploy = [
        str(BIN / "fab"),
        "-H",
        box.host,
        "-i",
        str(box.key_path),
        "deploy",
        "--known-hosts",
        str(KNOWN_HOSTS),
        "--env-file",
        str(env_file),
        "--verify-url",
        box.agent_url,
    ]
    smoke = [
        str(BIN / "pytest"),
        "smoke_tests",
        "-q",
        "--host",
        f"127.0.0.1:{box.http_port}",
        "--env-file",
        str(env_file),
        "--ssh",
        box.host,
        "--ssh-key",
        str(box.key_path),
        "--known-hosts",
        str(KNOWN_HOSTS),
    ]
    for step in (deploy, smoke):
        print(f"\n$ {shlex.join(step)}", flush=True)
        # Local programs on this machine's terminal, not commands on a host.
        done = subprocess.run(step, check=False)
        if done.returncode != 0:
            raise Exit(f"demo: {Path(step[0]).name} failed (exit {done.returncode})", code=1)
    print(f"\nThe agent answers at {box.agent_url} (try {box.agent_url}/status).")
    print(
        f"Tokens: {env_file} (mode 0600). Remove the sandbox with: fab sandbox.down --name {name}"
    )
