"""Log lines shown by `fab doctor` with every secret replaced by `****`.

An agent's log may hold a token (an old build printing its config when it crashes). Three nets:
the values the operator gave (the env file's), any word whose SHA-256 is one of the secrets the
host's agent runs with (host_facts reads only their hashes), and anything written as a secret
usually is (`Bearer …`, `…TOKEN=…`, `…key: …`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MASK = "****"
WORD = re.compile(r"[A-Za-z0-9_\-.~+/=]{8,}")
NAMED = re.compile(
    r"(?i)(bearer\s+|(?:token|key|secret|password|passwd)[A-Za-z0-9_]*['\"]?\s*[=:]\s*['\"]?)"
    r"[^\s'\",}]+"
)
LONGEST = 240  # characters of a line shown


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Masker:
    def __init__(self, values: Iterable[str] = (), hashes: Iterable[str] = ()) -> None:
        self.values = sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)
        self.hashes = {h for h in hashes if h}

    def _word(self, match: re.Match[str]) -> str:
        word = match.group(0)
        if sha256(word) in self.hashes:
            return MASK
        name, sep, value = word.partition("=")  # KEY=value: the value alone may be the secret
        return f"{name}={MASK}" if sep and sha256(value) in self.hashes else word

    def line(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        if self.hashes:
            text = WORD.sub(self._word, text)
        text = NAMED.sub(lambda m: m.group(1) + MASK, text)
        return text if len(text) <= LONGEST else text[: LONGEST - 1] + "…"
