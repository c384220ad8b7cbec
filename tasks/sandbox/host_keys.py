"""The sandbox droplets' own known_hosts file (`.sandbox/known_hosts`).

A droplet's host key is read from its filesystem through this machine's Docker engine, never
over the network, and recorded under `[127.0.0.1]:<ssh port>`; every SSH connection to a sandbox
(the project's own, `fab -S .sandbox/ssh_config`, `ssh` from `fab sandbox.ssh`, `make demo`)
checks the key against this file. Ports are reused by later sandboxes, so `up` replaces the
entry for its port and `down` removes it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docker.models.containers import Container

from tasks.host_keys import HostKeyCheck, known_host_name

HOST_KEY = "/etc/ssh/ssh_host_ed25519_key.pub"


def entry_name(ssh_port: int) -> str:
    return known_host_name("127.0.0.1", ssh_port)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Several sandboxes start at once (tests, bench): one writer at a time."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def rewrite(path: Path, ssh_port: int, new_line: str | None) -> None:
    """Drop the entry for `ssh_port`, add `new_line`; written whole, then renamed in place."""
    name = entry_name(ssh_port)
    with locked(path):
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [line for line in lines if line.split(" ", 1)[0] != name]
        if new_line is not None:
            kept.append(new_line)
        fresh = path.with_suffix(".new")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write("".join(f"{line}\n" for line in kept))
        fresh.replace(path)


def droplet_host_key(container: Container) -> str | None:
    """`type base64` of the droplet's ed25519 host key, or None while it boots."""
    done = container.exec_run(["cat", HOST_KEY])
    words = done.output.decode(errors="replace").split() if done.exit_code == 0 else []
    return " ".join(words[:2]) if len(words) >= 2 else None


def record(path: Path, container: Container, ssh_port: int) -> bool:
    """Record the droplet's key for its port (replacing an older one); False while it boots."""
    key = droplet_host_key(container)
    if key is None:
        return False
    line = f"{entry_name(ssh_port)} {key}"
    if not (path.exists() and line in path.read_text().splitlines()):
        rewrite(path, ssh_port, line)
    return True


def forget(path: Path, ssh_port: int) -> None:
    if path.exists():
        rewrite(path, ssh_port, None)


def check(path: Path) -> HostKeyCheck:
    """Connections to sandboxes: this file only, no trust on first use."""
    return HostKeyCheck((path,))
