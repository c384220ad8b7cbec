"""The pure parts of the sandbox and image tooling: no Docker engine, no host needed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from tasks import images, rootfs, sandbox
from tasks.cli.sandbox_tasks import port_flag
from tasks.sandbox import droplet, engines

BOX = sandbox.Sandbox("box", 2222, 30000, Path("/keys/box/id_ed25519"))


def test_droplet_run_line_has_the_verified_flags_and_loopback_ports():
    argv = sandbox.run_argv("box", 2201, 30001, BOX.key_path)
    line = " ".join(argv)
    for flags in (
        "--cap-add ALL --cap-drop SYS_RESOURCE",
        "--security-opt systempaths=unconfined",
        "--cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw",
        "-v box-docker:/var/lib/docker",
        "-p 127.0.0.1:2201:22 -p 127.0.0.1:30001:30000",
        "--restart unless-stopped",
        "--label dtma.sandbox.ssh_port=2201",
    ):
        assert flags in line
    assert "--privileged" not in argv
    assert argv[-1] == engines.DROPLET_IMAGE
    # The key's value never appears on a command line, only the variable's name.
    assert argv[argv.index("--env") + 1] == "SANDBOX_AUTHORIZED_KEY"


def test_a_containerd_droplet_has_a_current_engine_and_a_volume_for_each_data_dir():
    argv = sandbox.run_argv("box", 2201, 30001, BOX.key_path, "containerd")
    line = " ".join(argv)
    assert "-v box-docker:/var/lib/docker -v box-containerd:/var/lib/containerd" in line
    assert "--label dtma.sandbox.engine=containerd" in line
    kind = engines.ENGINES["containerd"]
    assert argv[-1] == kind.image != engines.DROPLET_IMAGE
    assert kind.suite == "trixie" and {"docker-cli", "containerd"} <= set(kind.packages)
    daemon = dict(kind.files)["/etc/docker/daemon.json"].read_text()
    assert '"containerd-snapshotter": true' in daemon
    assert sandbox.volume_names("box") == ["box-containerd", "box-docker"]
    with pytest.raises(sandbox.SandboxError, match="no engine kind"):
        sandbox.up("box", engine="zfs")


def test_droplets_answer_systemctl_as_real_droplets_do():
    """The deploy restarts an engine only through systemd's docker unit; a sandbox droplet
    answers those calls with its own init."""
    for kind in engines.ENGINES.values():
        assert dict(kind.files)["/usr/local/bin/systemctl"] == engines.SYSTEMCTL[1]


def test_sandbox_addresses():
    assert BOX.host == "root@127.0.0.1:2222"
    assert BOX.agent_url == "http://127.0.0.1:30000"
    assert BOX.ssh_argv("docker", "ps")[-3:] == ["root@127.0.0.1", "docker", "ps"]
    assert BOX.connection().connect_kwargs["key_filename"] == [str(BOX.key_path)]


def test_ssh_config_entry_is_key_only_and_checks_the_recorded_host_key():
    text = sandbox.ssh_config_text([BOX])
    assert "Host box\n" in text
    for line in ("HostName 127.0.0.1", "Port 2222", "User root",
                 f"IdentityFile {BOX.key_path}", "StrictHostKeyChecking yes",
                 f"UserKnownHostsFile {droplet.KNOWN_HOSTS}"):  # fmt: skip
        assert f"    {line}\n" in text
    argv = BOX.ssh_argv()
    assert "StrictHostKeyChecking=yes" in argv
    assert f"UserKnownHostsFile={droplet.KNOWN_HOSTS}" in argv


def test_debootstrap_and_import_lines():
    assert rootfs.debootstrap_argv(["python3", "curl"], Path("/tmp/r")) == [
        "debootstrap", "--variant=minbase", "--include=python3,curl", "bookworm", "/tmp/r",
        "http://deb.debian.org/debian",
    ]  # fmt: skip
    assert rootfs.import_argv("x:1", ["ENV A=1"]) == [
        "docker", "import", "--change", "ENV A=1", "-", "x:1"
    ]  # fmt: skip


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_source_version_follows_the_working_tree(tmp_path: Path):
    assert images.source_version(tmp_path) == "unversioned"
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("one\n")
    git(tmp_path, "add", "a.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    clean = images.source_version(tmp_path)
    assert len(clean) >= 7 and "dirty" not in clean

    (tmp_path / "a.py").write_text("two\n")
    dirty = images.source_version(tmp_path)
    assert dirty.startswith(f"{clean}-dirty.") and len(dirty) == len(clean) + 15
    assert images.source_version(tmp_path) == dirty  # same changes, same version
    (tmp_path / "a.py").write_text("three\n")
    assert images.source_version(tmp_path) not in (clean, dirty)
    (tmp_path / "a.py").write_text("one\n")
    (tmp_path / "new.py").write_text("x\n")  # untracked files count too
    assert images.source_version(tmp_path).startswith(f"{clean}-dirty.")


@pytest.mark.parametrize("given", ["abc", "0", "65536", "-1", "22.5"])
def test_a_port_flag_that_is_not_a_port_is_one_clear_line(given):
    with pytest.raises(Exit, match=rf"--ssh-port '{re.escape(given)}' is not a port"):
        port_flag(given, 2222, "--ssh-port")


def test_port_flags_take_a_number_or_the_default():
    assert port_flag(None, 2222, "--ssh-port") == 2222
    assert port_flag("2300", 2222, "--ssh-port") == 2300
