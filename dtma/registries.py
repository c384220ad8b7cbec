"""Which registries a tool may be pulled from.

A pull from the droplet's own loopback, link-local or private network would make the engine
send requests there for anyone who may deploy a tool, and echo fragments of the answers in its
errors. Such registries are refused unless DTMA_PRIVATE_REGISTRIES names them (host or
host:port, as the image reference spells it). Names are not resolved here: a registry's DNS
decides, as for any pull.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection


def registry_of(reference: str) -> str | None:
    """The registry an image reference names (`reg:5000/x` -> `reg:5000`), None for Hub's."""
    first, slash, _ = reference.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        return None
    return first


def registry_problem(reference: str, allowed: Collection[str] = ()) -> str | None:
    registry = registry_of(reference)
    if registry is None or registry in allowed:
        return None
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    if host in allowed:
        return None
    hint = "pull from a public registry, or name it in DTMA_PRIVATE_REGISTRIES"
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return f"registry {registry} is this droplet itself: {hint}"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_link_local or address.is_private or address.is_unspecified:
        return f"registry {registry} is on a loopback, link-local or private address: {hint}"
    return None
