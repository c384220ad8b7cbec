"""The promises the suite checks, how each came out, and the summary an operator reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

import pytest


@dataclass(frozen=True)
class Promise:
    name: str
    says: str
    enabled_by: str | None = None  # the option that turns an opt-in check on


PROMISES = (
    Promise("health", "/health and /status answer 200 within the latency budget"),
    Promise("status-contract", "/status carries what the backend's refresh reads; status healthy"),
    Promise("auth", "missing/other-scheme/empty credentials 401, wrong 403, the backend key 200"),
    Promise("refresh", "the frontend's refresh-status would succeed and mark the toolbox active"),
    Promise(
        "restart-policy",
        "container restarts by itself, mounts docker.sock, publishes 30000",
        "--ssh root@HOST[:PORT] [--ssh-key PATH]",
    ),
    Promise(
        "tool-lifecycle",
        "a tool container can be created, listed, stopped, started and deleted",
        "--destructive --tool-image IMAGE",
    ),
)
BY_NAME = {p.name: p for p in PROMISES}


def mask(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret (longest first, so a key inside a JWT goes too) with ***."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


# Set once by the plugin: the values no message may contain.
SECRETS: list[str] = []


def broken(message: str) -> NoReturn:
    """Fail the running test with `message` alone (no traceback), secrets masked."""
    pytest.fail(mask(message, tuple(SECRETS)), pytrace=False)


@dataclass
class Ledger:
    """Outcome per promise, filled from the test reports."""

    outcomes: dict[str, list[str]] = field(default_factory=dict)
    skip_reasons: dict[str, str] = field(default_factory=dict)

    def record(self, promise: str, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.outcomes.setdefault(promise, []).append(report.outcome)
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            self.skip_reasons[promise] = reason.removeprefix("not checked: ")

    def verdict(self, promise: str) -> str:
        outcomes = self.outcomes.get(promise, [])
        if "failed" in outcomes:
            return "broken"
        if "passed" in outcomes:
            return "kept"
        return "not checked"


def summary_lines(ledger: Ledger, target: str, notes: list[str]) -> list[str]:
    lines = [f"DTMA smoke summary for {target}:"]
    for promise in PROMISES:
        verdict = ledger.verdict(promise.name)
        line = f"  {verdict:<12} {promise.name:<16} {promise.says}"
        if verdict == "not checked":
            reason = ledger.skip_reasons.get(promise.name)
            line += f" — {reason}" if reason else " — not selected in this run"
        lines.append(line)
    lines += [f"  note: {note}" for note in notes]
    return lines
