"""The one way to talk to a host: a Remote wraps a Fabric Connection.

This is the only module that calls a connection's run, sftp or port forwarding (through
tasks/host_shell.py, the shell it keeps open on the host, and tasks/tunnel.py). Commands come
in as argv lists (tasks/commands) and are quoted once, here; answers go back as CommandResult.
SSH trouble and failed commands become DeployError naming host, step, cause and what to do.
Connections the project opens itself are made by `connection()`, the one place where
connect options (timeouts, keys, host-key policy) are set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import IO, Any

import fabric
import paramiko

from tasks import interrupts
from tasks.commands.shell import to_shell
from tasks.errors import DeployError
from tasks.host_keys import HostKeyCheck
from tasks.host_shell import HostShell, HostShellClosed
from tasks.settings import DeploySettings
from tasks.tunnel import LocalForward

# What a dropped or refused SSH session raises (paramiko, sockets, a closed channel).
SSH_ERRORS = (OSError, EOFError, paramiko.SSHException)
SSH_HINT = "check the host is up and takes your key"

# Paramiko logs each refused tunnel connect at ERROR; the checks through it report what matters.
logging.getLogger("paramiko.transport").addHandler(logging.NullHandler())
logging.getLogger("paramiko.transport").propagate = False


@dataclass(frozen=True)
class CommandResult:
    command: str  # the line as run: for messages and plans, never holds a secret
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def last_line(self) -> str:
        """The line that says why a command failed: the last one it wrote."""
        lines = [line.strip() for line in (self.stderr or self.stdout).splitlines()]
        lines = [line for line in lines if line]
        return lines[-1] if lines else f"exit {self.exit_code}"


def connection(
    host: str,
    *,
    user: str = "root",
    port: int = 22,
    key_files: Sequence[str] = (),
    connect_timeout: float = 10,
    host_keys: HostKeyCheck,
) -> fabric.Connection:
    """A key-only connection for the project's own use (sandbox droplets): no SSH agent, no
    ~/.ssh keys or configs, nothing asked on a terminal, the host key checked by `host_keys`."""
    conn = fabric.Connection(
        host,
        user=user,
        port=port,
        config=fabric.Config(overrides={"load_ssh_configs": False}),
        connect_timeout=connect_timeout,
        connect_kwargs={
            "key_filename": list(key_files),
            "look_for_keys": False,
            "allow_agent": False,
        },
    )
    host_keys.apply(conn.client)
    return conn


class Remote:
    """One host, reached over one SSH connection whose host key `host_keys` checks.

    `exchanges` counts what waited on the host: each command (a channel opened, the command
    run, its exit read: two to three round trips), file written or sent, tunnel opened. Over a
    link tens of milliseconds long these, not the bytes, are what a small deploy costs."""

    def __init__(self, conn: Any, host_keys: HostKeyCheck) -> None:
        self._conn = conn
        self._host_keys = host_keys
        self.exchanges = 0
        self._counting = threading.Lock()  # checks run side by side (tasks/at_once.py)
        self._shell: HostShell | None = None
        self._opening = threading.Lock()
        self._shell_refused = not hasattr(conn, "open")  # a stand-in without SSH underneath
        host_keys.apply(conn.client)  # before the first command opens the connection

    def _ssh_failed(self, exc: BaseException, step: str) -> DeployError:
        refused = self._host_keys.explain(exc, self._conn.port)
        if refused is not None:
            return DeployError(self.host, step, str(refused), refused.hint)
        return DeployError(self.host, step, f"SSH failed: {exc}", SSH_HINT)

    @property
    def host(self) -> str:
        """How messages name the host: user@host:port, as given to -H."""
        return f"{self._conn.user}@{self._conn.host}:{self._conn.port}"

    @property
    def hostname(self) -> str:
        return self._conn.host

    @property
    def ssh_line(self) -> str:
        """The ssh command an operator types to reach this host, for hints."""
        conn = self._conn
        port = f"-p {conn.port} " if int(conn.port) != 22 else ""
        return f"ssh {port}{conn.user}@{conn.host}"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every way -H may have named this host, most specific first."""
        conn = self._conn
        return (self.host, f"{conn.host}:{conn.port}", f"{conn.user}@{conn.host}", conn.host)

    @property
    def connected(self) -> bool:
        return bool(self._conn.is_connected)

    def close(self) -> None:
        self._drop_shell()
        self._conn.close()

    def _host_shell(self) -> HostShell | None:
        """The shell kept open on the host (tasks/host_shell.py), opened on first use; None
        where the host will not run one (then each command opens its own channel)."""
        with self._opening:
            if self._shell is None and not self._shell_refused:
                self._conn.open()
                transport = self._conn.client.get_transport()
                try:
                    self._shell = HostShell(transport) if transport is not None else None
                except (paramiko.ChannelException, HostShellClosed):
                    self._shell_refused = True  # no shell, or no room for its files there
            return self._shell

    def open_early(self) -> Callable[[str], None]:
        """Open the connection and the host's shell in the background (while the image builds:
        the handshake's round trips and the build overlap). The callable returned waits for it
        and raises what went wrong as the first command would have, naming `step`."""
        failed: list[BaseException] = []

        def open_now() -> None:
            try:
                self._host_shell()
            except BaseException as exc:  # said by the step that waits for it
                failed.append(exc)

        opening = threading.Thread(target=open_now, name=f"connect {self.host}", daemon=True)
        opening.start()

        def opened(step: str) -> None:
            opening.join()
            if failed and isinstance(failed[0], SSH_ERRORS):
                raise self._ssh_failed(failed[0], step)
            if failed:
                raise failed[0]

        return opened

    def _count(self) -> None:
        with self._counting:
            self.exchanges += 1

    def _drop_shell(self) -> None:
        shell, self._shell = self._shell, None
        if shell is not None:
            shell.close()

    def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        hint: str = "check the host",
        check: bool = True,
        timeout: float | None = None,
    ) -> CommandResult:
        """Run one command line; with `check`, a non-zero exit is a DeployError too."""
        self._count()
        result = self._execute(argv, step=step, timeout=timeout)
        if check and not result.ok:
            raise DeployError(self.host, step, result.last_line(), hint)
        return result

    def stream(self, argv: Sequence[str], *, step: str, pty: bool = False) -> CommandResult:
        """Run with the output shown as it comes (logs): nothing is hidden or checked."""
        self._count()
        return self._execute(argv, step=step, hide=False, pty=pty)

    def _execute(
        self,
        argv: Sequence[str],
        *,
        step: str,
        hide: bool = True,
        pty: bool = False,
        timeout: float | None = None,
    ) -> CommandResult:
        line = to_shell(argv)
        # Without a terminal, Fabric answers a Ctrl-C by dropping the channel: the command cut
        # in half (a stop done, the renames after it not). Held, it runs to its end first.
        # With one (`fab logs --follow`), the ^C goes to the command, which stops.
        try:
            with nullcontext() if pty else interrupts.held("the remote step under way"):
                shell = self._host_shell() if hide and timeout is None else None
                if shell is not None and shell.try_lock():  # else busy: another thread's
                    try:
                        return CommandResult(line, *shell.run(line))
                    except BaseException:
                        self._drop_shell()  # cut mid-answer: never read from it again
                        raise
                    finally:
                        shell.unlock()
                # in_stream=False: never read our stdin (pytest, cron and CI have none to give).
                done = self._conn.run(
                    line, hide=hide, warn=True, in_stream=False, pty=pty, timeout=timeout
                )
        except SSH_ERRORS as exc:
            raise self._ssh_failed(exc, step) from None
        return CommandResult(line, done.exited, done.stdout, done.stderr)

    def write_file(self, path: str, data: bytes, *, step: str) -> None:
        """Write bytes into an existing remote file over SFTP: the contents never appear on a
        command line, in a process list or in a shell history."""
        self._count()
        try:
            with self._conn.sftp().open(path, "w") as handle:
                handle.write(data)
        except SSH_ERRORS as exc:
            raise self._ssh_failed(exc, step) from None

    def upload(
        self, data: IO[bytes], path: str, *, size: int, callback: Callable[[int, int], None]
    ) -> None:
        """Send a file over SFTP (binary-safe, unlike a command's stdin). SSH errors are left
        to the caller, which knows how much went and what to say."""
        self._count()
        self._conn.sftp().putfo(data, path, file_size=size, callback=callback)

    @contextmanager
    def tunnel(self, remote_port: int) -> Iterator[str]:
        """`ssh -L` to a port on the host's loopback; yields the local base URL (its port held
        by us throughout, see tasks/tunnel.py)."""
        self._count()
        try:
            self._conn.open()
            forward = LocalForward(self._conn.client.get_transport(), remote_port)
        except SSH_ERRORS as exc:
            raise self._ssh_failed(exc, "tunnel") from None
        with forward:
            yield f"http://127.0.0.1:{forward.port}"


def remote_of(c: Any, s: DeploySettings) -> Remote:
    """The host Fabric connected this task to (-H), its SSH host key checked against
    --known-hosts, then any UserKnownHostsFile of the ssh_config (-S), then ~/.ssh/known_hosts."""
    bound_waits(c, s.connect_timeout)
    check = HostKeyCheck.from_settings(s.known_hosts, s.accept_new_host_key)
    from_ssh_config = c.ssh_config.get("userknownhostsfile") if hasattr(c, "ssh_config") else None
    return Remote(c, check.with_files(from_ssh_config.split() if from_ssh_config else ()))


def bound_waits(c: Any, seconds: float) -> None:
    """An unreachable or silent host fails within `seconds`: TCP connect, SSH banner, login
    (a -t/--connect-timeout given to fab wins for the connect)."""
    if not hasattr(c, "connect_kwargs") or c.is_connected:
        return
    c.connect_timeout = c.connect_timeout or max(1, int(seconds))
    waits = {"banner_timeout": seconds, "auth_timeout": seconds}
    c.connect_kwargs = {**waits, **c.connect_kwargs}
