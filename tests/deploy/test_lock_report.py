"""Lock owner records and staleness; the deploy report's table, JSON and audit line."""

import json

from tasks.cli.executor import summary
from tasks.steps.lock import LockOwner, is_stale
from tasks.steps.report import DeployReport, audit_line, file_name, render, write
from tasks.units import human_bytes


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


def make_report() -> DeployReport:
    rep = DeployReport(host="root@10.0.0.1:22", version="abc", outcome="deployed", started_at=0.0)
    rep.phases = {"build": 1.5, "ship": 2.25}
    rep.bytes_sent, rep.image_bytes = 2_200, 308_000_000
    rep.layers_total, rep.layers_sent = 9, 1
    rep.old_image, rep.new_image = "dtma:old", "dtma:abc"
    rep.verify = "ok"
    rep.env_sha256 = "f" * 64
    return rep


def test_render_table():
    text = render(make_report())
    assert text.splitlines() == [
        "deploy root@10.0.0.1:22: deployed",
        "build          1.50 s",
        "ship           2.25 s",
        "total          3.75 s",
        "sent       2.2 KB of 308.0 MB (0.00%)",
        "layers     8 of 9 reused",
        "image      dtma:old -> dtma:abc",
        "verify     ok",
    ]


def test_json_report_and_audit_line(tmp_path):
    path = write(make_report(), tmp_path)
    assert path.name == "root_10.0.0.1_22-19700101T000000Z.json"
    data = json.loads(path.read_text())
    assert data["bytes_sent"] == 2200 and data["total_seconds"] == 3.75
    audit = json.loads(audit_line(make_report(), "me@box"))
    assert audit["by"] == "me@box" and audit["outcome"] == "deployed"
    assert file_name("a/b c", 0.0) == "a_b_c-19700101T000000Z.json"


def test_human_bytes():
    assert [human_bytes(n) for n in (12, 2_200, 153_000_000)] == ["12 B", "2.2 KB", "153.0 MB"]


def test_summary_names_every_host_in_order():
    text = summary(["a", "b", "c"], {"a": ("deployed", "v2"), "b": ("rolled back", "boom")})
    lines = text.splitlines()
    assert lines[0] == "summary:"
    assert lines[1].split()[:2] == ["a", "deployed"]
    assert lines[2].split()[:3] == ["b", "rolled", "back"]
    assert lines[3].split()[:2] == ["c", "untouched"]
