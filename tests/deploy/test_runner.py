"""The runner: argv quoted once at the edge, failures turned into one DeployError."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace

import paramiko
import pytest

from tasks import interrupts
from tasks.commands.shell import chain, or_true, silenced
from tasks.errors import DeployError
from tasks.host_keys import HostKeyCheck
from tasks.runner import CommandResult, Remote
from tests.support.local_channel import DeadTransport

HOST_KEYS = HostKeyCheck((Path("/nonexistent/known_hosts"),))


class RecordingConnection:
    """What Remote needs of a Fabric Connection: run() answers as told, lines are kept."""

    user, host, port, is_connected = "root", "droplet", 2222, True

    def __init__(self, exited: int = 0, stdout: str = "", stderr: str = "", raises=None):
        self.client = paramiko.SSHClient()
        self.lines: list[str] = []
        self.kwargs: list[dict] = []
        self.answer = SimpleNamespace(exited=exited, stdout=stdout, stderr=stderr)
        self.raises = raises

    def run(self, line: str, **kwargs):
        self.lines.append(line)
        self.kwargs.append(kwargs)
        if self.raises:
            raise self.raises
        return self.answer


class ShellRefusingConnection(RecordingConnection):
    """A connection whose host cannot keep a shell open: its setup exits at once."""

    def __init__(self) -> None:
        super().__init__(stdout="ran")
        self.client.get_transport = DeadTransport  # type: ignore[method-assign]

    def open(self) -> None:
        pass


def test_a_host_that_cannot_keep_a_shell_runs_each_command_on_its_own_channel():
    conn = ShellRefusingConnection()
    remote = Remote(conn, HOST_KEYS)
    assert remote.run(["echo", "one"], step="x").stdout == "ran"
    assert remote.run(["echo", "two"], step="x").stdout == "ran"
    assert conn.lines == ["echo one", "echo two"]  # no further try at a shell


def test_argv_is_quoted_once_and_operators_stay_bare():
    conn = RecordingConnection(stdout="ok\n")
    done = Remote(conn, HOST_KEYS).run(
        chain(["docker", "rename", "a b", "c"], or_true(silenced(["docker", "rm", "x;y"]))),
        step="release",
    )
    assert conn.lines == ["docker rename 'a b' c && docker rm 'x;y' >/dev/null 2>&1 || true"]
    assert done.ok and done.stdout == "ok\n" and done.command == conn.lines[0]
    # Hidden, never reading our stdin, and the exit code is ours to judge.
    assert conn.kwargs[0] | {"timeout": None} == {
        "hide": True,
        "warn": True,
        "in_stream": False,
        "pty": False,
        "timeout": None,
    }


def test_a_failed_command_is_one_error_naming_host_step_cause_and_hint():
    conn = RecordingConnection(exited=1, stderr="pulling\nError: no space left on device\n")
    with pytest.raises(DeployError) as failure:
        Remote(conn, HOST_KEYS).run(
            ["docker", "load", "-i", "/x"], step="load", hint="free disk space"
        )
    assert str(failure.value) == (
        "root@droplet:2222: load failed: Error: no space left on device -> free disk space"
    )


def test_unchecked_commands_return_their_exit_code():
    done = Remote(RecordingConnection(exited=127), HOST_KEYS).run(
        ["docker"], step="docker", check=False
    )
    assert (done.ok, done.exit_code, done.last_line()) == (False, 127, "exit 127")


@pytest.mark.parametrize(
    "error", [OSError("connection refused"), EOFError(), paramiko.SSHException("no auth")]
)
def test_ssh_trouble_is_a_deploy_error_too(error):
    with pytest.raises(DeployError) as failure:
        Remote(RecordingConnection(raises=error), HOST_KEYS).run(["true"], step="preflight")
    assert failure.value.step == "preflight" and failure.value.cause.startswith("SSH failed")
    assert "key" in failure.value.hint


def test_every_name_a_host_may_have_been_given_as():
    remote = Remote(RecordingConnection(), HOST_KEYS)
    assert remote.host == "root@droplet:2222"
    assert remote.keys == ("root@droplet:2222", "droplet:2222", "root@droplet", "droplet")


def test_last_line():
    failed = CommandResult("docker load", 1, "", "a\nError: layer does not exist\n\n")
    assert failed.last_line() == "Error: layer does not exist"
    assert CommandResult("docker load", 1, "", "").last_line() == "exit 1"


def test_a_changed_host_key_is_one_error_that_says_what_to_do():
    server, recorded = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    changed = paramiko.BadHostKeyException("droplet", server, recorded)
    with pytest.raises(DeployError) as failure:
        Remote(RecordingConnection(raises=changed), HOST_KEYS).run(["true"], step="preflight")
    assert failure.value.cause.startswith("the SSH host key of [droplet]:2222 CHANGED")
    assert "ssh-keygen -R '[droplet]:2222' -f /nonexistent/known_hosts" in failure.value.hint


def test_the_connection_checks_host_keys_before_it_opens():
    conn = RecordingConnection()
    Remote(conn, HOST_KEYS)
    policy = conn.client._policy
    assert type(policy).__name__ == "KnownHostsPolicy" and policy.accept_new is False


@pytest.fixture(autouse=True)
def ctrl_c_as_from_a_terminal():
    """SIGINT raises KeyboardInterrupt, as in `fab` run from a terminal (a suite run as a
    background job starts with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class InterruptedConnection(RecordingConnection):
    """run() gets `ctrl_c` Ctrl-Cs while the command runs, then finishes it (if still let)."""

    def __init__(self, ctrl_c: int):
        super().__init__()
        self.ctrl_c, self.finished = ctrl_c, False

    def run(self, line: str, **kwargs):
        for _ in range(self.ctrl_c):
            os.kill(os.getpid(), signal.SIGINT)
        self.finished = True
        return super().run(line, **kwargs)


def test_a_ctrl_c_during_a_command_is_raised_once_the_command_has_finished(capsys):
    """Fabric would drop the channel (the command cut in half); here the command runs to its
    end, then the interrupt is raised, once."""
    conn = InterruptedConnection(ctrl_c=1)
    remote = Remote(conn, HOST_KEYS)
    with pytest.raises(KeyboardInterrupt):
        remote.run(["docker", "stop", "dtma"], step="release")
    assert conn.finished and conn.lines == ["docker stop dtma"]
    assert "interrupted: finishing the remote step under way" in capsys.readouterr().out
    conn.ctrl_c = 0
    remote.run(["true"], step="release")  # raised once, not again at the next command
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_during_a_command_cuts_it():
    conn = InterruptedConnection(ctrl_c=2)
    with pytest.raises(KeyboardInterrupt):
        Remote(conn, HOST_KEYS).run(["docker", "stop", "dtma"], step="release")
    assert not conn.finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_during_a_command_with_a_terminal_goes_to_the_command():
    """`fab logs --follow`: Fabric sends the ^C down the terminal; nothing is held back."""
    conn = InterruptedConnection(ctrl_c=1)
    with pytest.raises(KeyboardInterrupt):
        Remote(conn, HOST_KEYS).stream(["docker", "logs", "-f", "dtma"], step="logs", pty=True)
    assert not conn.finished


def test_a_hold_inside_a_hold_adds_nothing_and_a_failed_block_keeps_its_error():
    with pytest.raises(KeyboardInterrupt), interrupts.held("the switch"):
        with interrupts.held("the remote step under way"):
            os.kill(os.getpid(), signal.SIGINT)
        reached = True  # the inner hold's end raised nothing: the outer one holds
    assert reached
    with pytest.raises(DeployError), interrupts.held("the switch"):
        os.kill(os.getpid(), signal.SIGINT)
        raise DeployError("droplet", "release", "the new agent did not answer", "redeploy")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class OpeningConnection(ShellRefusingConnection):
    """A connection whose opening fails with `raises` (or succeeds), counted."""

    def __init__(self, raises: BaseException | None = None) -> None:
        super().__init__()
        self.opens, self.raises_on_open = 0, raises

    def open(self) -> None:
        self.opens += 1
        if self.raises_on_open:
            raise self.raises_on_open


def test_a_connection_opened_early_is_used_by_the_first_command():
    conn = OpeningConnection()
    remote = Remote(conn, HOST_KEYS)
    remote.open_early()("preflight")
    assert conn.opens == 1 and remote.run(["echo", "one"], step="x").stdout == "ran"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (OSError("No route to host"), "SSH failed: No route to host"),
        (
            paramiko.BadHostKeyException(
                "droplet", paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
            ),
            "the SSH host key of [droplet]:2222 CHANGED",
        ),
    ],
)
def test_what_went_wrong_opening_early_is_said_by_the_step_that_waits(error, cause):
    opened = Remote(OpeningConnection(raises=error), HOST_KEYS).open_early()
    with pytest.raises(DeployError) as failure:
        opened("preflight")
    assert failure.value.step == "preflight" and failure.value.cause.startswith(cause)
