"""The deploy lock, its commands run in a real shell against real directories: it never deletes
what it did not create, a stale lock has exactly one breaker, and only the owner releases."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tasks.errors import DeployError
from tasks.steps import lock
from tasks.steps.lock import LockOwner, is_stale
from tests.support.local_remote import LocalRemote

REMOTE = LocalRemote()


def test_lock_owner_round_trip_and_description():
    owner = LockOwner("alice", "laptop", 4242, 1_700_000_000.0)
    assert LockOwner.from_json(owner.to_json()) == owner
    text = owner.describe(now=1_700_000_090.0)
    assert text == "alice@laptop pid 4242 since 2023-11-14 22:13:20Z (90 s ago)"
    assert LockOwner.from_json("garbage") is None
    assert LockOwner.from_json('{"user": "x"}') is None
    foreign = {**json.loads(owner.to_json()), "tool": "something-else"}
    assert LockOwner.from_json(json.dumps(foreign)) is None  # not written by this tool


def test_staleness_counts_from_the_last_renewal():
    owner = LockOwner("a", "m", 1, 1000.0)
    assert not is_stale(owner, now=1000.0 + 899, ttl=900)
    assert is_stale(owner, now=1000.0 + 901, ttl=900)
    assert not is_stale(owner.renewed(1800.0), now=1000.0 + 901, ttl=900)


def age(lock_dir: Path, seconds: float) -> None:
    """Make the lock's owner look `seconds` old (a deploy that died long ago)."""
    owner = LockOwner.from_json((lock_dir / "owner").read_text())
    assert owner is not None
    old = replace(owner, acquired_at=time.time() - seconds, renewed_at=None)
    (lock_dir / "owner").write_text(old.to_json() + "\n")


def test_force_unlock_on_a_foreign_directory_deletes_nothing(tmp_path):
    precious = tmp_path / "lock"
    precious.mkdir()
    (precious / "data.db").write_text("keep me")
    (precious / "owner").write_text("not ours\n")
    with pytest.raises(DeployError) as refused:
        lock.acquire(REMOTE, str(precious), ttl=1, force=True)
    assert "holds no lock of this tool's" in str(refused.value)
    assert (precious / "data.db").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lock", "lock.guard"]  # its flock file


def test_a_fresh_lock_is_never_broken_and_names_its_holder(tmp_path):
    lock_dir = tmp_path / "lock"
    lock.acquire(REMOTE, str(lock_dir), ttl=900)
    with pytest.raises(DeployError, match=r"another deploy holds the lock: .* pid"):
        lock.acquire(REMOTE, str(lock_dir), ttl=900, force=True)


def forced_takers(lock_dir: Path, count: int) -> list[object]:
    """`count` deploys with --force-unlock started at the same moment: owner or error each."""
    outcomes: list[object] = []
    start = threading.Barrier(count)

    def take() -> None:
        start.wait()
        try:
            outcomes.append(lock.acquire(REMOTE, str(lock_dir), ttl=60, force=True))
        except DeployError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=take) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_forced_takers_of_a_stale_lock_exactly_one_wins(tmp_path):
    for round_ in range(10):
        lock_dir = tmp_path / f"lock{round_}"
        lock.acquire(REMOTE, str(lock_dir), ttl=60)
        age(lock_dir, 3600)
        outcomes = forced_takers(lock_dir, 2)
        winners = [o for o in outcomes if isinstance(o, LockOwner)]
        assert len(winners) == 1, outcomes
        assert LockOwner.from_json((lock_dir / "owner").read_text()) == winners[0]
        assert sorted(p.name for p in tmp_path.glob(f"lock{round_}*")) == [
            f"lock{round_}",
            f"lock{round_}.guard",
        ]  # nothing left aside


class Interleaved(LocalRemote):
    """After each command this remote runs, `between` acts: another deploy in every gap."""

    def __init__(self, between) -> None:
        super().__init__()
        self.between = between

    def _execute(self, argv, **kwargs):
        done = super()._execute(argv, **kwargs)
        self.between()
        return done


def test_a_lock_taken_during_a_forced_break_is_never_stranded(tmp_path):
    """Security review row 8. B forces a stale lock; right after B has read the stale owner,
    that lock is broken and retaken by C; then D tries to take it after each of B's commands.
    At most one deploy may believe it holds the lock, and that is the lock on the host."""
    lock_dir = tmp_path / "lock"
    lock.acquire(REMOTE, str(lock_dir), ttl=60)
    age(lock_dir, 3600)
    holders: list[LockOwner] = []
    commands = 0

    def another_deploy() -> None:
        nonlocal commands
        commands += 1
        if commands == 2:  # B has read the stale owner: someone breaks it, C takes the lock
            REMOTE.run(["rm", "-rf", str(lock_dir)], step="lock")
            holders.append(lock.acquire(REMOTE, str(lock_dir), ttl=60))
        elif commands > 2:
            with contextlib.suppress(DeployError):
                holders.append(lock.acquire(REMOTE, str(lock_dir), ttl=60))  # D

    with pytest.raises(DeployError, match="another deploy holds the lock"):
        lock.acquire(Interleaved(another_deploy), str(lock_dir), ttl=60, force=True)  # B
    assert len(holders) == 1, holders
    assert LockOwner.from_json((lock_dir / "owner").read_text()) == holders[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lock", "lock.guard"]


def test_release_by_a_non_owner_does_nothing(tmp_path):
    lock_dir = tmp_path / "lock"
    holder = lock.acquire(REMOTE, str(lock_dir), ttl=900)
    lock.unlock(REMOTE, str(lock_dir), LockOwner.here())  # another take's token
    assert LockOwner.from_json((lock_dir / "owner").read_text()) == holder
    lock.unlock(REMOTE, str(lock_dir), holder)
    assert not lock_dir.exists()


def test_a_held_lock_is_renewed_while_the_block_runs(tmp_path):
    lock_dir = tmp_path / "lock"
    with lock.held(REMOTE, str(lock_dir), ttl=3) as owner:
        time.sleep(2.5)  # more than the renewal interval (ttl / 3)
        seen = LockOwner.from_json((lock_dir / "owner").read_text())
        assert seen is not None and seen.token == owner.token
        assert seen.renewed_at is not None and seen.renewed_at > owner.acquired_at
    assert not lock_dir.exists()


def test_renewal_does_not_touch_a_lock_that_is_no_longer_ours(tmp_path):
    lock_dir = tmp_path / "lock"
    mine = lock.acquire(REMOTE, str(lock_dir), ttl=900)
    age(lock_dir, 3600)
    theirs = lock.acquire(REMOTE, str(lock_dir), ttl=60, force=True)  # broke and retook it
    lock.renew(REMOTE, str(lock_dir), mine)
    assert LockOwner.from_json((lock_dir / "owner").read_text()) == theirs
