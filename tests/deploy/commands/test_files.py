"""The lock's take-and-sign command, run in a real local shell."""

import json
import subprocess

from tasks.commands import files
from tasks.commands.shell import to_shell


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
    assert line == (
        "mkdir -p /var/lib/d && mkdir /var/lib/d/lock && "
        "{ printf '%s\\n' '{}' > /var/lib/d/lock/owner || "
        "{ rm -rf /var/lib/d/lock ; exit 73 ; } ; }"
    )
    assert files.UNSIGNED_LOCK == 73
