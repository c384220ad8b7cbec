"""A Remote whose "host" is this machine's own shell: the deploy's commands run for real (files,
mkdir, mv, grep), which is what a lock's safety rests on, with no SSH in between."""

from __future__ import annotations

import subprocess

from tasks.commands.shell import to_shell
from tasks.runner import CommandResult
from tests.support.fake_remote import FakeRemote


class LocalRemote(FakeRemote):
    def __init__(self) -> None:
        super().__init__(host="local")

    def _execute(self, argv, *, step, hide=True, pty=False, timeout=None) -> CommandResult:
        line = to_shell(argv)
        done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=60)
        return CommandResult(line, done.returncode, done.stdout, done.stderr)
