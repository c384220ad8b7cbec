"""The promotion rules as pure functions: own container id, times, which release steps aside.
(test_handover_containers.py runs them against the real engine.)"""

from __future__ import annotations

from datetime import UTC, datetime

from dtma.own_container import DockerUnavailable, Release, newer_promoted_release, own_container_id
from dtma.own_container import parse_time as parse
from dtma.promotion import decide_at_start

ID_A, ID_B, ID_C = "a" * 64, "b" * 64, "c" * 64


def release(id_: str, policy: str, when: str, group: str = "") -> Release:
    stamp = parse(when)
    assert stamp is not None
    return Release(id=id_, name=id_[:4], restart_policy=policy, deployed_at=stamp, group=group)


def test_own_id_from_mountinfo_or_cgroup(tmp_path):
    (tmp_path / "mountinfo").write_text(
        "100 99 0:52 / / rw - overlay overlay rw\n"
        f"101 99 8:1 /var/lib/docker/containers/{ID_A}/hostname /etc/hostname rw - ext4 rw\n"
    )
    assert own_container_id(tmp_path) == ID_A
    (tmp_path / "mountinfo").write_text(f"7 6 8:1 /containers/{ID_B}/hosts /etc/hosts rw\n")
    assert own_container_id(tmp_path) == ID_B  # /var/lib/docker on a mount of its own
    (tmp_path / "mountinfo").write_text("100 99 0:52 / / rw - overlay overlay rw\n")
    (tmp_path / "cgroup").write_text(f"12:memory:/docker/{ID_C}\n")
    assert own_container_id(tmp_path) == ID_C
    (tmp_path / "cgroup").write_text(f"0::/system.slice/docker-{ID_A}.scope\n")
    assert own_container_id(tmp_path) == ID_A
    (tmp_path / "cgroup").write_text("0::/user.slice\n")
    assert own_container_id(tmp_path) is None


def test_times_from_labels_and_docker():
    assert parse("2026-11-28T11:30:27Z") == datetime(2026, 11, 28, 11, 30, 27, tzinfo=UTC)
    assert parse("2026-11-28T11:30:27.123456789Z") == datetime(
        2026, 11, 28, 11, 30, 27, 123456, tzinfo=UTC
    )
    assert parse("2026-11-28T12:30:27+01:00") == parse("2026-11-28T11:30:27Z")
    assert parse("yesterday") is None


def test_release_reads_label_else_created():
    info = {
        "Id": ID_A,
        "Name": "/dtma",
        "Created": "2026-01-01T00:00:00.5Z",
        "Config": {"Labels": {"dtma.deployed_at": "2026-02-01T00:00:00Z", "dtma.role": "agent"}},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}},
    }
    got = Release.from_inspect(info)
    assert (got.name, got.promoted, got.deployed_at.month) == ("dtma", True, 2)
    info["Config"]["Labels"] = {}
    info["HostConfig"] = {"RestartPolicy": {"Name": ""}}
    got = Release.from_inspect(info)
    assert (got.promoted, got.restart_policy, got.deployed_at.month) == (False, "no", 1)


def test_only_the_newest_promoted_release_stays():
    old = release(ID_A, "always", "2026-01-01T00:00:00Z")
    new = release(ID_B, "always", "2026-02-01T00:00:00Z")
    candidate = release(ID_C, "no", "2026-03-01T00:00:00Z")
    assert newer_promoted_release(old, [new, candidate]) == new
    assert newer_promoted_release(new, [old, candidate]) is None
    # equal times: the id decides, so exactly one of the two steps aside
    twin = release(ID_C, "always", "2026-02-01T00:00:00Z")
    assert newer_promoted_release(new, [twin]) == twin
    assert newer_promoted_release(twin, [new]) is None
    # another group (tests sharing an engine) is not a rival
    assert (
        newer_promoted_release(old, [release(ID_B, "always", "2027-01-01T00:00:00Z", "x")]) is None
    )


class Engine:
    """A stand-in for DockerEngine's three calls (a dict of inspect answers)."""

    def __init__(self, answers: dict[str, dict], fail: bool = False) -> None:
        self.answers, self.fail, self.updates = answers, fail, []

    def inspect(self, container_id: str) -> dict:
        if self.fail or container_id not in self.answers:
            raise DockerUnavailable("no such container")
        return self.answers[container_id]

    def agent_ids(self) -> list[str]:
        return [*self.answers, "d" * 64]  # one removed since it was listed

    def set_restart_policy(self, container_id: str, name: str) -> None:
        self.updates.append((container_id, name))


def inspected(id_: str, policy: str, when: str) -> dict:
    labels = {"dtma.role": "agent", "dtma.deployed_at": when}
    return {"Id": id_, "Name": f"/{id_[:4]}", "Config": {"Labels": labels},
            "HostConfig": {"RestartPolicy": {"Name": policy}}}  # fmt: skip


def test_decision_at_start():
    verdict = decide_at_start(Engine({}), None)
    assert not verdict.promoted and "until SIGUSR1" in verdict.note
    verdict = decide_at_start(Engine({}, fail=True), ID_A)
    assert not verdict.promoted and "cannot read own restart policy" in verdict.note
    candidate = Engine({ID_A: inspected(ID_A, "no", "2026-03-01T00:00:00Z")})
    assert not decide_at_start(candidate, ID_A).promoted
    answers = {
        ID_A: inspected(ID_A, "always", "2026-01-01T00:00:00Z"),
        ID_B: inspected(ID_B, "unless-stopped", "2026-02-01T00:00:00Z"),
    }
    newest = decide_at_start(Engine(answers), ID_B)
    assert newest.promoted and newest.yield_to is None
    older = decide_at_start(Engine(answers), ID_A)
    assert older.promoted and older.yield_to is not None and older.yield_to.id == ID_B


def test_a_tool_dressed_as_a_newer_release_never_makes_the_agent_step_aside():
    """A tool image may carry `dtma.role=agent` (an image's labels land on its container): the
    container the agent made for it carries the tool label all the same."""
    me = release(ID_A, "unless-stopped", "2026-11-28T10:00:00Z")
    info = {
        "Id": ID_B,
        "Name": "/tool-1",
        "Config": {
            "Labels": {
                "dtma.role": "agent",
                "dtma.deployed_at": "2030-01-01T00:00:00Z",
                "agentopia.managed_by": "dtma",
            }
        },
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}, "NetworkMode": "bridge"},
    }
    dressed = Release.from_inspect(info)
    assert dressed.tool and not dressed.release
    assert newer_promoted_release(me, [dressed]) is None
    # A real newer release (no tool label) still wins.
    info["Config"]["Labels"].pop("agentopia.managed_by")
    assert newer_promoted_release(me, [Release.from_inspect(info)]).id == ID_B
