"""One `sh` kept open on the host for the deploy's commands: each command is one write and one
read on a channel already open, a single round trip. Run the usual way, each command opens a
channel, asks for an exec and waits for its exit: two to three round trips, which over a link
tens of milliseconds long cost more than the commands themselves.

Each command runs as before, alone: in a subshell (nothing it sets outlives it), stdin from
/dev/null, its stdout and stderr kept apart in files of a private temporary directory (on
/run, a tmpfs, where it exists: a full disk does not silence the commands' errors). The shell
answers with a marker line that no output can forge (it carries a random token): the exit
code and the two outputs' sizes, then the outputs.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

# Read by `sh -s` before any command: its private directory, removed when the shell exits.
SETUP = (
    "d=$(mktemp -d /run/dtma-sh.XXXXXX 2>/dev/null || mktemp -d) || exit 1; "
    'trap \'rm -rf "$d"\' EXIT; echo "$1 ready"\n'
)
CHUNK = 65536


class HostShellClosed(EOFError):
    """The shell on the host went away (the connection dropped, or the shell exited)."""


class HostShell:
    """A shell on the host over `transport`; `run` is used by one thread at a time
    (`try_lock`: a second caller meanwhile runs its command the usual way)."""

    def __init__(self, transport: Any) -> None:
        self._marker = secrets.token_hex(16)
        self._buffer = b""
        self._lock = threading.Lock()
        self._channel = transport.open_session()
        try:
            self._channel.exec_command(f"sh -s {self._marker}")
            self._channel.sendall(SETUP.encode())
            self._read_until(f"{self._marker} ready\n".encode())
        except OSError:  # it ended before reading its setup (the write met a closed pipe)
            self._channel.close()
            raise HostShellClosed("the shell on the host closed at its start") from None
        except BaseException:
            self._channel.close()
            raise

    def try_lock(self) -> bool:
        return self._lock.acquire(blocking=False)

    def unlock(self) -> None:
        self._lock.release()

    def close(self) -> None:
        self._channel.close()

    def run(self, line: str) -> tuple[int, str, str]:
        """Run `line` (a shell command line); its exit code, stdout and stderr."""
        mark = self._marker
        script = (
            f'( {line}\n) </dev/null >"$d/o" 2>"$d/e"; r=$?; '
            f'printf "\\n%s %s %s %s\\n" {mark} "$r" "$(wc -c <"$d/o")" "$(wc -c <"$d/e")"; '
            f'cat "$d/o" "$d/e"\n'
        )
        self._channel.sendall(script.encode())
        self._read_until(f"\n{mark} ".encode())
        code, out_size, err_size = (int(word) for word in self._read_until(b"\n").split())
        stdout = self._read_exactly(out_size).decode("utf-8", "replace")
        stderr = self._read_exactly(err_size).decode("utf-8", "replace")
        return code, stdout, stderr

    def _fill(self) -> None:
        data = self._channel.recv(CHUNK)
        if not data:
            raise HostShellClosed("the shell on the host closed")
        self._buffer += data

    def _read_until(self, end: bytes) -> bytes:
        """Bytes up to `end` (dropped, with `end`); what comes before it is the answer."""
        while (found := self._buffer.find(end)) < 0:
            self._fill()
        head, self._buffer = self._buffer[:found], self._buffer[found + len(end) :]
        return head

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        head, self._buffer = self._buffer[:size], self._buffer[size:]
        return head
