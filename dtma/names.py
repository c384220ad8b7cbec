"""Docker's container-name rule, stated once so the 400 can quote it."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"
NAME_RULE = (
    "must match [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least 2 characters: letters, digits, '_', '.', '-';"
    " first a letter or digit; no spaces)"
)
_NAME = re.compile(NAME_PATTERN)


def is_valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))
