"""The lock's take-and-sign command, run in a real local shell."""

import json
import shlex
import subprocess

from tasks.commands import docker, files, scripts
from tasks.commands.shell import chain, to_shell


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", to_shell(argv)], capture_output=True, text=True)


def test_take_and_sign_takes_once_and_names_the_owner(tmp_path):
    lock = tmp_path / "state" / "lock"
    owner = json.dumps({"user": "me", "note": "it's $HOME"})
    assert run(files.take_and_sign_lock(str(lock), owner)).returncode == 0
    assert (lock / "owner").read_text() == owner + "\n"
    assert run(files.take_and_sign_lock(str(lock), owner)).returncode != 0  # already held


def test_a_lock_that_cannot_be_signed_is_given_back():
    line = to_shell(files.take_and_sign_lock("/var/lib/d/lock", "{}"))
    assert line.startswith("mkdir -p /var/lib/d && flock /var/lib/d/lock.guard sh -c ")
    inner = shlex.split(line)[-1]  # what runs under the guard
    assert inner == (
        "mkdir /var/lib/d/lock && "
        "{ printf '%s\\n' '{}' > /var/lib/d/lock/owner || "
        "{ rm -rf /var/lib/d/lock ; exit 73 ; } ; }"
    )
    assert files.UNSIGNED_LOCK == 73


def test_private_file_is_created_under_umask_not_chmodded_later():
    assert (
        to_shell(files.create_private_file("/etc/dtma/x.tmp")) == "umask 077 && : > /etc/dtma/x.tmp"
    )
    argv = files.install_file("/etc/dtma/x.tmp", "/etc/dtma/dtma.env")
    assert argv[:2] == ["sh", "-c"] and argv[-2:] == ["/etc/dtma/x.tmp", "/etc/dtma/dtma.env"]
    assert "mv -f" in argv[2] and "chmod 600" in argv[2]


def test_every_change_to_the_lock_runs_under_its_guard():
    lock = "/var/lib/dtma-deploy/lock"
    for argv in (
        files.take_and_sign_lock(lock, "{}")[4:],  # after `mkdir -p <parent> &&`
        files.remove_own_lock(lock, "abc"),
        files.rewrite_own_lock(lock, "abc", "{}"),
        files.break_lock_if_still(lock, "{}\n"),
    ):
        assert argv[:2] == ["flock", f"{lock}.guard"], argv


def test_a_break_removes_only_the_owner_it_judged(tmp_path):
    lock = tmp_path / "lock"
    assert run(files.take_and_sign_lock(str(lock), '{"token": "old"}')).returncode == 0
    judged = (lock / "owner").read_text()
    (lock / "owner").write_text('{"token": "old", "renewed_at": 1}\n')  # renewed since
    assert run(files.break_lock_if_still(str(lock), judged)).returncode != 0
    assert lock.is_dir()
    judged = (lock / "owner").read_text()
    assert run(files.break_lock_if_still(str(lock), judged)).returncode == 0
    assert not lock.exists()


def test_audit_line_survives_the_shell_intact():
    line = '{"a": "it\'s $HOME"}'
    command = to_shell(files.append_line("/var/log/dtma-deploy.log", line))
    words = shlex.split(command)
    assert words[:3] == ["printf", "%s\\n", line]
    assert words[-2:] == [">>", "/var/log/dtma-deploy.log"]


def test_commands_quote_paths_once():
    check = shlex.quote(files.PRIVATE_DIR_CHECK)
    assert to_shell(files.prepare_stage("/var/tmp/my dir")) == (
        f"mkdir -p -m 700 '/var/tmp/my dir' && sh -c {check} - '/var/tmp/my dir' && "
        "find '/var/tmp/my dir' -maxdepth 1 -type f "
        "-name 'ship-*' -delete && df -PB1 '/var/tmp/my dir'"
    )
    assert files.clean_stage("/s")[-3:] == ["-name", "ship-*", "-delete"]
    tags = [docker.tag("sha256:1", ref) for ref in ["a:1", "b:2"]]
    assert to_shell(chain(*tags)) == ("docker tag sha256:1 a:1 && docker tag sha256:1 b:2")
    assert scripts.host_layers()[2].endswith("--format '{{json .RootFS.Layers}}' $ids")


def test_the_stage_dir_must_be_a_real_root_only_directory(tmp_path):
    private = tmp_path / "stage"
    assert run(files.prepare_stage(str(private))).returncode == 0  # made fresh: root, 0700
    private.chmod(0o755)
    refused = run(files.prepare_stage(str(private)))
    assert refused.returncode != 0 and "not a directory only root can use" in refused.stderr
    assert "0:0:755" in refused.stderr
    link = tmp_path / "link"
    link.symlink_to(private)
    private.chmod(0o700)
    assert run(files.prepare_stage(str(link))).returncode != 0  # a link: refused too


def test_only_the_lock_owner_token_removes_or_rewrites_it(tmp_path):
    lock = tmp_path / "lock"
    owner = json.dumps({"tool": "dtma-deploy", "token": "abc"})
    assert run(files.take_and_sign_lock(str(lock), owner)).returncode == 0
    assert run(files.rewrite_own_lock(str(lock), "xyz", "{}")).returncode != 0
    assert run(files.remove_own_lock(str(lock), "xyz")).returncode != 0
    assert (lock / "owner").read_text() == owner + "\n"
    renewed = json.dumps({"tool": "dtma-deploy", "token": "abc", "renewed_at": 1.0})
    assert run(files.rewrite_own_lock(str(lock), "abc", renewed)).returncode == 0
    assert (lock / "owner").read_text() == renewed + "\n"
    assert run(files.remove_own_lock(str(lock), "abc")).returncode == 0
    assert not lock.exists()
