"""The one error a deploy step raises: which host, which step, what went wrong, what to do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DeployError(Exception):
    """An expected failure. The cli prints it as one line and exits non-zero."""

    host: str
    step: str
    cause: str
    hint: str = ""

    def __str__(self) -> str:
        line = f"{self.host}: {self.step} failed: {self.cause}"
        return f"{line} -> {self.hint}" if self.hint else line


class VerifyFailed(Exception):
    """One check of a running agent did not pass; the step that ran it turns it into a
    DeployError (or a rollback). The message says which check and what was seen."""


class NotItsTurn(Exception):
    """A fleet host held at the gate while the canaries ran, and the rollout stopped before its
    turn: what it had prepared is undone, the host is as it was."""
