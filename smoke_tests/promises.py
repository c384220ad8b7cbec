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
    Promise(
        "auth", "missing/other-scheme/empty credentials 401, wrong or near-miss 403, the key 200"
    ),
    Promise("refresh", "the frontend's refresh-status would succeed and mark the toolbox active"),
    Promise(
        "restart-policy",
        "container restarts by itself, mounts docker.sock, serves 30000 (host net or -p)",
        "--ssh root@HOST[:PORT] [--ssh-key PATH]",
    ),
    Promise(
        "tool-lifecycle",
        "a tool container can be created, listed, stopped, started and deleted",
        "--destructive --tool-image IMAGE",
    ),
)
BY_NAME = {p.name: p for p in PROMISES}


SHORTEST_PART = 8  # a run this long of a secret's characters is a part worth hiding


def secret_parts(text: str, secret: str) -> list[tuple[int, int]]:
    """Spans of `text` made of overlapping runs of `secret` (whole, or any part of it)."""
    size = min(SHORTEST_PART, len(secret))
    windows = {secret[i : i + size] for i in range(len(secret) - size + 1)}
    spans: list[tuple[int, int]] = []
    for start in range(len(text) - size + 1):
        if text[start : start + size] in windows:
            end = start + size
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
    return spans


def mask(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret, and every part of one (a cut-off or echoed-in-pieces token), with
    ***. Always mask before truncating: a cut secret is still a secret."""
    covered = sorted(span for secret in secrets if secret for span in secret_parts(text, secret))
    merged: list[tuple[int, int]] = []
    for start, end in covered:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for start, end in reversed(merged):
        text = text[:start] + "***" + text[end:]
    return text


# Set once by the plugin: the values no message may contain.
SECRETS: list[str] = []


def clip(text: str, limit: int = 200) -> str:
    """`text` on one line, secrets masked first, then cut to `limit` characters."""
    text = mask(" ".join(text.split()), tuple(SECRETS))
    return text if len(text) <= limit else text[:limit] + "…"


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
