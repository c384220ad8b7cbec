"""Argv lists with shell operators as marked tokens, and the one place they become a line.

A builder returns a list of words; compound commands join lists with the operators below
(Kamal's `combine`/`chain` idea). `to_shell` quotes every plain word once with shlex and
leaves only the operators bare, so a value can never become shell syntax.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence


class Op(str):
    """A shell operator (`&&`, `||`, `>`, `2>&1`, ...): written as is, never quoted."""

    __slots__ = ()


Argv = list[str]

AND = Op("&&")
OR = Op("||")
THEN = Op(";")


def _joined(operator: Op, commands: Sequence[Sequence[str]]) -> Argv:
    argv: Argv = []
    for command in commands:
        argv += [operator, *command] if argv else list(command)
    return argv


def chain(*commands: Sequence[str]) -> Argv:
    """Each command runs only if the one before succeeded."""
    return _joined(AND, commands)


def then(*commands: Sequence[str]) -> Argv:
    """Each command runs whatever the one before did."""
    return _joined(THEN, commands)


def either(first: Sequence[str], fallback: Sequence[str]) -> Argv:
    return [*first, OR, *fallback]


def group(command: Sequence[str]) -> Argv:
    """`{ command; }`: one unit for the operators around it."""
    return [Op("{"), *command, THEN, Op("}")]


def or_true(command: Sequence[str]) -> Argv:
    return either(command, ["true"])


def silenced(command: Sequence[str]) -> Argv:
    return [*command, Op(">/dev/null"), Op("2>&1")]


def with_stderr(command: Sequence[str]) -> Argv:
    """Both streams into stdout, in the order they were written."""
    return [*command, Op("2>&1")]


def write_to(command: Sequence[str], path: str) -> Argv:
    return [*command, Op(">"), path]


def append_to(command: Sequence[str], path: str) -> Argv:
    return [*command, Op(">>"), path]


def to_shell(argv: Sequence[str]) -> str:
    """The line SSH runs: plain words quoted once, operators as they are."""
    return " ".join(word if isinstance(word, Op) else shlex.quote(word) for word in argv)
