"""Host keys are checked before anything is sent: real sshd in a sandbox droplet, real SSH."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator

import paramiko
import pytest

from tasks import sandbox
from tasks.host_keys import HostKeyCheck, HostKeyRefused, fingerprint, known_host_name
from tests.support.sandboxes import sandbox_for_tests

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def box() -> Iterator[sandbox.Sandbox]:
    yield from sandbox_for_tests("dtma-hostkeys")


def connect(box: sandbox.Sandbox, check: HostKeyCheck) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    check.apply(client)
    client.connect(
        "127.0.0.1", port=box.ssh_port, username="root", key_filename=str(box.key_path),
        look_for_keys=False, allow_agent=False, timeout=30,
    )  # fmt: skip
    return client


def server_key_line(box: sandbox.Sandbox) -> str:
    """The droplet's ed25519 host key, read from its filesystem (not over the network)."""
    argv = ["docker", "exec", box.name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def test_an_unknown_host_is_refused_with_its_fingerprint(box, tmp_path):
    check = HostKeyCheck((tmp_path / "known_hosts",))
    with pytest.raises(HostKeyRefused) as refused:
        connect(box, check)
    key_type, blob = server_key_line(box).split()[:2]
    expected = fingerprint(
        paramiko.PKey.from_type_string(key_type, __import__("base64").b64decode(blob))
    )
    assert f"unknown SSH host key for [127.0.0.1]:{box.ssh_port}" in str(refused.value)
    assert expected in str(refused.value)
    assert "--accept-new-host-key" in refused.value.hint
    assert not (tmp_path / "known_hosts").exists()


def test_accept_new_records_the_key_then_plain_connections_work(box, tmp_path):
    known = tmp_path / "ssh" / "known_hosts"
    connect(box, HostKeyCheck((known,), accept_new=True)).close()
    line = known.read_text().strip()
    assert line.split()[0] == known_host_name("127.0.0.1", box.ssh_port)
    assert line.split()[1:] == server_key_line(box).split()[:2]
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert stat.S_IMODE(known.parent.stat().st_mode) == 0o700
    client = connect(box, HostKeyCheck((known,)))  # now known: no flag needed
    _, out, _ = client.exec_command("echo ok")
    assert out.read().strip() == b"ok"
    client.close()


def test_a_changed_key_is_refused_even_with_accept_new(box, tmp_path):
    key_file = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key_file)], check=True)
    other = paramiko.Ed25519Key.from_private_key_file(str(key_file))  # not the server's
    known = tmp_path / "known_hosts"
    name = known_host_name("127.0.0.1", box.ssh_port)
    known.write_text(f"{name} {other.get_name()} {other.get_base64()}\n")
    check = HostKeyCheck((known,), accept_new=True)
    with pytest.raises(paramiko.BadHostKeyException) as changed:
        connect(box, check)
    explained = check.explain(changed.value, box.ssh_port)
    assert explained is not None
    assert f"the SSH host key of {name} CHANGED" in str(explained)
    assert fingerprint(other) in str(explained)
    assert f"ssh-keygen -R '{name}' -f {known}" in explained.hint
    assert known.read_text().count("\n") == 1  # nothing recorded
