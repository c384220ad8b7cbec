"""Lock owner records and staleness."""

from tasks.steps.lock import LockOwner, is_stale


def test_lock_owner_round_trip_and_description():
    owner = LockOwner("alice", "laptop", 4242, 1_700_000_000.0)
    assert LockOwner.from_json(owner.to_json()) == owner
    text = owner.describe(now=1_700_000_090.0)
    assert text == "alice@laptop pid 4242 since 2023-11-14 22:13:20Z (90 s ago)"
    assert LockOwner.from_json("garbage") is None
    assert LockOwner.from_json('{"user": "x"}') is None


def test_staleness():
    owner = LockOwner("a", "m", 1, 1000.0)
    assert not is_stale(owner, now=1000.0 + 899, ttl=900)
    assert is_stale(owner, now=1000.0 + 901, ttl=900)
    assert is_stale(None, now=0, ttl=900)  # a lock without owner file is a crashed take
