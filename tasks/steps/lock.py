"""A deploy lock on the host: an atomic `mkdir` plus an owner file naming who holds it."""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from tasks.commands import files
from tasks.errors import DeployError
from tasks.runner import Remote


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


def read_owner(remote: Remote, lock_dir: str) -> LockOwner | None:
    owner_file = files.lock_owner_file(lock_dir)
    result = remote.run(files.read_file(owner_file), step="lock", check=False)
    return LockOwner.from_json(result.stdout) if result.ok else None


def acquire(remote: Remote, lock_dir: str, ttl: float, force: bool = False) -> LockOwner:
    """Take the lock or raise DeployError naming its holder; break a stale one only if forced."""
    owner = LockOwner.here()
    take = files.take_and_sign_lock(lock_dir, owner.to_json())
    for attempt in range(2):
        taken = remote.run(take, step="lock", check=False)
        if taken.ok:
            return owner
        if taken.exit_code == files.UNSIGNED_LOCK:
            raise DeployError(
                remote.host,
                "lock",
                f"could not write {files.lock_owner_file(lock_dir)}: {taken.stderr.strip()}",
                "check the host's disk",
            )
        holder = read_owner(remote, lock_dir)
        now = time.time()
        held_by = holder.describe(now) if holder else "an unknown owner (no owner file)"
        if attempt == 0 and force and is_stale(holder, now, ttl):
            remote.run(files.remove_tree(lock_dir), step="lock")
            continue
        if is_stale(holder, now, ttl):
            hint = f"if no deploy is running, rerun with --force-unlock (lock {lock_dir})"
        else:
            hint = f"wait for it to end; a lock older than {ttl:.0f} s yields to --force-unlock"
        raise DeployError(remote.host, "lock", f"another deploy holds the lock: {held_by}", hint)
    raise AssertionError("unreachable")


def unlock(remote: Remote, lock_dir: str) -> None:
    remote.run(files.remove_tree(lock_dir), step="lock", check=False)


@contextmanager
def held(remote: Remote, lock_dir: str, ttl: float, force: bool = False) -> Iterator[LockOwner]:
    """Hold the lock for the block; released on every exit, Ctrl-C included."""
    owner = acquire(remote, lock_dir, ttl, force)
    try:
        yield owner
    finally:
        unlock(remote, lock_dir)
