"""Near-misses of a real token: what a broken token check lets through.

An agent that compares only lengths, only a prefix, ignores case, or stops at the key's end
accepts one of these; a correct constant-time compare of the whole token refuses them all.
"""

from __future__ import annotations


def changed_one_character(token: str) -> str:
    middle = len(token) // 2
    replacement = "x" if token[middle] != "x" else "y"
    return token[:middle] + replacement + token[middle + 1 :]


def near_misses(token: str) -> dict[str, str]:
    """Kind -> value, each different from `token` (kinds that would equal it are left out)."""
    misses = {
        "same length, one character changed": changed_one_character(token),
        "a prefix": token[:-1],
        "the key plus one character": token + "x",
        "different case": token.swapcase(),
    }
    return {kind: value for kind, value in misses.items() if value and value != token}
