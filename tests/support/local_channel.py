"""An SSH channel's stand-in over a local process (stdin in, stdout out): what the host shell
needs of paramiko, for its protocol's tests against a real local `sh`."""

from __future__ import annotations

import os
import subprocess


class LocalChannel:
    """What HostShell needs of a paramiko channel, over a local process."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def exec_command(self, command: str) -> None:
        self.process = subprocess.Popen(
            command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def sendall(self, data: bytes) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def recv(self, size: int) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        return os.read(self.process.stdout.fileno(), size)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


class LocalTransport:
    def __init__(self) -> None:
        self.channel = LocalChannel()

    def open_session(self) -> LocalChannel:
        return self.channel


class DeadTransport(LocalTransport):
    """A host where the shell's setup fails at once (e.g. no room for its private files)."""

    def open_session(self) -> LocalChannel:
        channel = super().open_session()

        def exits_at_once(command: str) -> None:
            LocalChannel.exec_command(channel, "exit 1")
            channel.process.wait()  # gone before the setup is written: the write fails

        channel.exec_command = exits_at_once
        return channel
