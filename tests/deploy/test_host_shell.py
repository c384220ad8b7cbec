"""The shell kept open on the host, its protocol run against a real local `sh -s` (an SSH
channel's stand-in: stdin in, stdout out). Over real SSH: tests/deploy/e2e."""

from __future__ import annotations

import os

import pytest

from tasks.commands.shell import chain, to_shell, write_to
from tasks.host_shell import HostShell, HostShellClosed
from tests.support.local_channel import DeadTransport, LocalTransport


@pytest.fixture
def shell():
    opened = HostShell(LocalTransport())
    try:
        yield opened
    finally:
        opened.close()


def test_outputs_come_back_apart_and_exact(shell):
    assert shell.run("printf 'no newline'") == (0, "no newline", "")
    assert shell.run("echo out; echo err >&2; exit 3") == (3, "out\n", "err\n")
    assert shell.run("printf '\\n\\n'") == (0, "\n\n", "")
    big = shell.run("head -c 300000 /dev/zero | tr '\\0' x")
    assert big == (0, "x" * 300000, "")


def test_an_output_that_looks_like_the_protocol_is_only_output(shell):
    forged = f"\n{shell._marker} 0 0 0\n"
    line = to_shell(["printf", "%s", forged])
    assert shell.run(line) == (0, forged, "")
    assert shell.run("echo next") == (0, "next\n", "")


def test_each_command_runs_alone(shell, tmp_path):
    made = tmp_path / "made"
    assert shell.run(to_shell(chain(["umask", "077"], write_to([":"], str(made)))))[0] == 0
    assert oct(made.stat().st_mode & 0o777) == "0o600"
    assert shell.run("umask")[1].strip() != "0077"  # what one command sets, the next has not
    assert shell.run("cd /; x=1")[0] == 0
    assert shell.run('echo "[${x:-}]"; pwd')[1] == f"[]\n{os.getcwd()}\n"
    assert shell.run("cat")[0] == 0  # stdin is /dev/null: the command stream is not read
    assert shell.run("echo still here") == (0, "still here\n", "")


def test_a_command_that_ends_the_shell_is_an_error_not_a_hang(shell):
    with pytest.raises(HostShellClosed):
        shell.run("kill -9 $$")


def test_a_shell_that_cannot_start_says_so_and_leaves_nothing_running():
    transport = DeadTransport()
    with pytest.raises(HostShellClosed):
        HostShell(transport)
    assert transport.channel.process is not None and transport.channel.process.poll() is not None
