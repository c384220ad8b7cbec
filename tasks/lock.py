"""A deploy lock on the host: an atomic `mkdir` plus an owner file naming who holds it."""

from __future__ import annotations

import getpass
import json
import os
import shlex
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from tasks import commands
from tasks.errors import DeployError, host_label


@dataclass(frozen=True)
class LockOwner:
    user: str
    machine: str
    pid: int
    acquired_at: float

    @classmethod
    def here(cls, now: float | None = None) -> LockOwner:
        return cls(getpass.getuser(), socket.gethostname(), os.getpid(), now or time.time())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockOwner | None:
        try:
            data = json.loads(text)
            return cls(
                str(data["user"]),
                str(data["machine"]),
                int(data["pid"]),
                float(data["acquired_at"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def age(self, now: float) -> float:
        return max(0.0, now - self.acquired_at)

    def describe(self, now: float) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.acquired_at))
        return (
            f"{self.user}@{self.machine} pid {self.pid} since {when}Z ({self.age(now):.0f} s ago)"
        )


def is_stale(owner: LockOwner | None, now: float, ttl: float) -> bool:
    """Unknown owners count as stale: a lock without an owner file is a crashed take."""
    return owner is None or owner.age(now) > ttl


_UNSIGNED = 73  # exit code of the take command when the owner file could not be written


def _owner_file(lock_dir: str) -> str:
    return f"{lock_dir}/owner"


def read_owner(conn: Any, lock_dir: str) -> LockOwner | None:
    result = conn.run(shlex.join(commands.read_file(_owner_file(lock_dir))), hide=True, warn=True)
    return LockOwner.from_json(result.stdout) if result.ok else None


def acquire(conn: Any, lock_dir: str, ttl: float, force: bool = False) -> LockOwner:
    """Take the lock or raise DeployError naming its holder; break a stale one only if forced."""
    owner = LockOwner.here()
    owner_file = shlex.quote(_owner_file(lock_dir))
    # Take and sign in one round trip; a lock whose owner file cannot be written is given back.
    write = f"printf '%s\\n' {shlex.quote(owner.to_json())} > {owner_file}"
    take = (
        f"{commands.take_lock(lock_dir)} && "
        f"{{ {write} || {{ {shlex.join(commands.remove_tree(lock_dir))}; exit {_UNSIGNED}; }}; }}"
    )
    for attempt in range(2):
        taken = conn.run(take, hide=True, warn=True)
        if taken.ok:
            return owner
        if taken.exited == _UNSIGNED:
            raise DeployError(
                host_label(conn),
                "lock",
                f"could not write {_owner_file(lock_dir)}: {taken.stderr.strip()}",
                "check the host's disk",
            )
        holder = read_owner(conn, lock_dir)
        now = time.time()
        held_by = holder.describe(now) if holder else "an unknown owner (no owner file)"
        if attempt == 0 and force and is_stale(holder, now, ttl):
            conn.run(shlex.join(commands.remove_tree(lock_dir)), hide=True)
            continue
        if is_stale(holder, now, ttl):
            hint = f"if no deploy is running, rerun with --force-unlock (lock {lock_dir})"
        else:
            hint = f"wait for it to end; a lock older than {ttl:.0f} s yields to --force-unlock"
        raise DeployError(
            host_label(conn), "lock", f"another deploy holds the lock: {held_by}", hint
        )
    raise AssertionError("unreachable")


def release(conn: Any, lock_dir: str) -> None:
    conn.run(shlex.join(commands.remove_tree(lock_dir)), hide=True, warn=True)


@contextmanager
def held(conn: Any, lock_dir: str, ttl: float, force: bool = False) -> Iterator[LockOwner]:
    """Hold the lock for the block; released on every exit, Ctrl-C included."""
    owner = acquire(conn, lock_dir, ttl, force)
    try:
        yield owner
    finally:
        release(conn, lock_dir)
