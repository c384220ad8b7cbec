"""A deploy lock on the host: an atomic `mkdir` plus an owner file in this tool's own format.

Safe by construction: only a directory whose owner file this tool wrote is ever removed; every
change to the lock (take, renewal, release, break) runs under one flock on the host, so a stale
lock is removed only if its owner file still reads exactly as when it was judged stale (of two
forced takers exactly one wins, and a lock taken meanwhile is never touched); a lock is
released only by its owner; and a held lock is renewed while the deploy runs, so a long upload
never lets it look stale.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace

from tasks.commands import files
from tasks.errors import DeployError
from tasks.runner import Remote

TOOL = "dtma-deploy"  # what an owner file of ours says it was written by


@dataclass(frozen=True)
class LockOwner:
    user: str
    machine: str
    pid: int
    acquired_at: float
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # names this one take
    renewed_at: float | None = None

    @classmethod
    def here(cls, now: float | None = None) -> LockOwner:
        return cls(getpass.getuser(), socket.gethostname(), os.getpid(), now or time.time())

    def to_json(self) -> str:
        return json.dumps({"tool": TOOL, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockOwner | None:
        """The owner, or None for anything this tool did not write."""
        try:
            data = json.loads(text)
            if data.get("tool") != TOOL:
                return None
            renewed = data.get("renewed_at")
            return cls(
                str(data["user"]),
                str(data["machine"]),
                int(data["pid"]),
                float(data["acquired_at"]),
                str(data["token"]),
                None if renewed is None else float(renewed),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def renewed(self, now: float) -> LockOwner:
        return replace(self, renewed_at=now)

    def age(self, now: float) -> float:
        """Seconds since the holder last showed it was alive."""
        return max(0.0, now - (self.renewed_at or self.acquired_at))

    def describe(self, now: float) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.acquired_at))
        return (
            f"{self.user}@{self.machine} pid {self.pid} since {when}Z ({self.age(now):.0f} s ago)"
        )


def is_stale(owner: LockOwner, now: float, ttl: float) -> bool:
    return owner.age(now) > ttl


def read_owner(remote: Remote, lock_dir: str) -> tuple[LockOwner | None, str]:
    """The lock's owner (None for anything this tool did not write) and its file's exact text."""
    result = remote.run(files.read_file(files.lock_owner_file(lock_dir)), step="lock", check=False)
    return (LockOwner.from_json(result.stdout), result.stdout) if result.ok else (None, "")


def not_ours(remote: Remote, lock_dir: str) -> DeployError:
    return DeployError(
        remote.host,
        "lock",
        f"{lock_dir} exists but holds no lock of this tool's (no owner file it wrote)",
        f"look at what it is; remove it by hand only if it is a leftover (rm -r {lock_dir})",
    )


def acquire(remote: Remote, lock_dir: str, ttl: float, force: bool = False) -> LockOwner:
    """Take the lock or raise DeployError naming its holder; break a stale one only if forced."""
    owner = LockOwner.here()
    for attempt in range(2):
        taken = remote.run(
            files.take_and_sign_lock(lock_dir, owner.to_json()), step="lock", check=False
        )
        if taken.ok:
            return owner
        if taken.exit_code == files.UNSIGNED_LOCK:
            raise DeployError(
                remote.host,
                "lock",
                f"could not write {files.lock_owner_file(lock_dir)}: {taken.stderr.strip()}",
                "check the host's disk",
            )
        holder, text = read_owner(remote, lock_dir)
        if holder is None:
            raise not_ours(remote, lock_dir)
        now = time.time()
        if attempt == 0 and force and is_stale(holder, now, ttl):
            remote.run(files.break_lock_if_still(lock_dir, text), step="lock", check=False)
            continue  # broken, or changed meanwhile: the take decides
        if is_stale(holder, now, ttl):
            hint = f"if no deploy is running, rerun with --force-unlock (lock {lock_dir})"
        else:
            hint = f"wait for it to end; a lock unrenewed for {ttl:.0f} s yields to --force-unlock"
        raise DeployError(
            remote.host, "lock", f"another deploy holds the lock: {holder.describe(now)}", hint
        )
    raise AssertionError("unreachable")


def unlock(remote: Remote, lock_dir: str, owner: LockOwner) -> None:
    """Remove the lock only if it is still `owner`'s (a broken and retaken lock is not)."""
    remote.run(files.remove_own_lock(lock_dir, owner.token), step="lock", check=False)


def renew(remote: Remote, lock_dir: str, owner: LockOwner) -> None:
    """Show the holder is alive: rewrite the owner file with the time, if it is still ours."""
    update = files.rewrite_own_lock(lock_dir, owner.token, owner.renewed(time.time()).to_json())
    remote.run(update, step="lock", check=False)


@contextmanager
def renewing(remote: Remote, lock_dir: str, owner: LockOwner, every: float) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            # SSH trouble here is met and reported by the step in progress.
            with contextlib.suppress(DeployError):
                renew(remote, lock_dir, owner)

    thread = threading.Thread(target=loop, name="lock-renewal", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


@contextmanager
def held(remote: Remote, lock_dir: str, ttl: float, force: bool = False) -> Iterator[LockOwner]:
    """Hold the lock for the block, renewed every third of its TTL; released on every exit,
    Ctrl-C included."""
    owner = acquire(remote, lock_dir, ttl, force)
    try:
        with renewing(remote, lock_dir, owner, every=max(1.0, ttl / 3)):
            yield owner
    finally:
        unlock(remote, lock_dir, owner)
