"""Instance names as users type them, and the Docker container names derived from them.

Any non-blank name without control characters, up to 200 characters, is an instance name
("Context7 MCP Server-1750…"). Its container name is the name itself when Docker accepts it as
is; otherwise an ASCII slug of it plus the first 12 hex digits of its SHA-256
("Context7-MCP-Server-1750-29cb22de498b"). The rule is deterministic, and no two instance names
share a container name: names kept as they are never end in `-<12 hex digits>`, derived ones
always do, and two derived ones differ in their hash (two names that differ only in characters
Docker rejects share a slug, not a hash). A name that ends in that pattern is derived too.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_NAME_LENGTH = 200
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same, as a pattern for the OpenAPI document: no control characters, one visible at least.
_PRINTABLE = r"[^\x00-\x1f\x7f-\x9f]"
VISIBLE_PATTERN = rf"^{_PRINTABLE}*[^\s\x00-\x1f\x7f-\x9f]{_PRINTABLE}*$"
DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
LOOKS_DERIVED = re.compile(r".*-[0-9a-f]{12}")
NOT_DOCKER = re.compile(r"[^a-zA-Z0-9_.-]+")
MAX_KEPT_LENGTH = 128
SLUG_LENGTH = 48
HASH_LENGTH = 12
# The deploy's own containers (`dtma`, `dtma-previous`, `dtma-candidate`, the sandboxes and
# benchmarks' `dtma-*`) and Agentopia's (`dtma_manager`, `agentopia_backend`).
RESERVED_NAMES = ("dtma", "dtma_manager", "agentopia_backend")
RESERVED_PREFIXES = ("dtma-", "dtma_")
NAME_RULE = (
    f"any name of 1 to {MAX_NAME_LENGTH} characters without control characters; names that are "
    f"or could become the agent's own containers ({', '.join(RESERVED_NAMES)}, "
    f"{', '.join(p + '*' for p in RESERVED_PREFIXES)}) are reserved"
)


def name_problem(name: str) -> str | None:
    """Why `name` cannot be an instance name (or a route's tool name), None when it can."""
    if not name.strip():
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    if CONTROL_CHARACTERS.search(name):
        return "contains control characters"
    return None


def is_docker_name(name: str) -> bool:
    return bool(DOCKER_NAME.fullmatch(name))


def container_name_for(instance_name: str) -> str:
    """The Docker container name of an instance name (see the module's docstring)."""
    if (
        len(instance_name) <= MAX_KEPT_LENGTH
        and is_docker_name(instance_name)
        and not LOOKS_DERIVED.fullmatch(instance_name)
    ):
        return instance_name
    ascii_only = unicodedata.normalize("NFKD", instance_name).encode("ascii", "ignore").decode()
    slug = NOT_DOCKER.sub("-", ascii_only).strip("-_.")[:SLUG_LENGTH].rstrip("-_.") or "tool"
    digest = hashlib.sha256(instance_name.encode()).hexdigest()[:HASH_LENGTH]
    return f"{slug}-{digest}"


def is_reserved(name: str) -> bool:
    """Case-insensitive: `DTMA` on a host is one `docker rename` away from `dtma`."""
    lowered = name.lower()
    return lowered in RESERVED_NAMES or lowered.startswith(RESERVED_PREFIXES)
