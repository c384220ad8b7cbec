"""A Remote whose "host" is this machine's own shell: the deploy's commands run for real (files,
mkdir, mv, grep), which is what a lock's safety rests on, with no SSH in between."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from tasks.commands.shell import to_shell
from tasks.errors import DeployError
from tasks.runner import CommandResult


class LocalRemote:
    host = "root@local:22"

    def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        hint: str = "check the host",
        check: bool = True,
        timeout: float | None = None,
    ) -> CommandResult:
        line = to_shell(argv)
        done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=60)
        result = CommandResult(line, done.returncode, done.stdout, done.stderr)
        if check and not result.ok:
            raise DeployError(self.host, step, result.last_line(), hint)
        return result
