"""A Remote with no host behind it: it records the argv of every command and answers from
canned results, so each deploy step can be tested for exactly what it sends."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import IO

import paramiko

from tasks.commands.shell import Op, to_shell
from tasks.host_keys import HostKeyCheck
from tasks.runner import CommandResult, Remote

OK = CommandResult("", 0, "", "")


def result(stdout: str = "", exit_code: int = 0, stderr: str = "") -> CommandResult:
    return CommandResult("", exit_code, stdout, stderr)


def words(argv: Sequence[str]) -> list[str]:
    """The argv without its operators: what a rule matches against."""
    return [word for word in argv if not isinstance(word, Op)]


Answer = CommandResult | Callable[[list[str]], CommandResult]


@dataclass
class Rule:
    """Answers commands holding `needle` (consecutive words); `answers` are used in turn, the
    last one again once the others are spent. An answer may be a function of the argv."""

    needle: tuple[str, ...]
    answers: list[Answer]
    used: int = 0

    def matches(self, argv: Sequence[str]) -> bool:
        found, n = words(argv), len(self.needle)
        return any(tuple(found[i : i + n]) == self.needle for i in range(len(found) - n + 1))

    def next(self, argv: list[str]) -> CommandResult:
        answer = self.answers[min(self.used, len(self.answers) - 1)]
        self.used += 1
        return answer if isinstance(answer, CommandResult) else answer(argv)


@dataclass
class Upload:
    path: str
    data: bytes


class FakeRemote(Remote):
    def __init__(self, user: str = "root", host: str = "droplet", port: int = 22) -> None:
        conn = SimpleNamespace(
            user=user, host=host, port=port, is_connected=True, client=paramiko.SSHClient()
        )
        super().__init__(conn, HostKeyCheck((Path("/nonexistent/known_hosts"),)))
        self.sent: list[list[str]] = []
        self.rules: list[Rule] = []
        self.files: dict[str, bytes] = {}
        self.uploads: list[Upload] = []
        self.tunnel_url = "http://127.0.0.1:9"  # where a tunnel to any other port leads
        self.tunnels: dict[int, str] = {}  # host port -> where its tunnel leads
        self.tunneled: list[int] = []  # host ports tunnelled to, in order
        self.on_command: Callable[[list[str]], None] | None = None

    def answer(self, *needle: str, with_: Answer | Sequence[Answer]) -> FakeRemote:
        answers = list(with_) if isinstance(with_, list | tuple) else [with_]
        self.rules.append(Rule(tuple(needle), answers))
        return self

    def _execute(self, argv, *, step, hide=True, pty=False, timeout=None) -> CommandResult:
        self.sent.append(list(argv))
        if self.on_command:
            self.on_command(list(argv))
        rule = next((rule for rule in self.rules if rule.matches(argv)), None)
        found = rule.next(list(argv)) if rule else OK
        return CommandResult(to_shell(argv), found.exit_code, found.stdout, found.stderr)

    def write_file(self, path: str, data: bytes, *, step: str) -> None:
        self.exchanges += 1
        self.files[path] = data

    def upload(self, data: IO[bytes], path: str, *, size: int, callback) -> None:
        self.exchanges += 1
        body = data.read()
        callback(len(body), size)
        self.uploads.append(Upload(path, body))

    @contextmanager
    def tunnel(self, remote_port: int) -> Iterator[str]:
        self.exchanges += 1
        self.tunneled.append(remote_port)
        yield self.tunnels.get(remote_port, self.tunnel_url)

    # -- reading what was sent ------------------------------------------------------------

    def lines(self) -> list[str]:
        return [to_shell(argv) for argv in self.sent]

    def sent_with(self, *needle: str) -> list[list[str]]:
        probe = Rule(tuple(needle), [OK])
        return [argv for argv in self.sent if probe.matches(argv)]
