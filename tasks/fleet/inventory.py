"""Which hosts a fleet run goes to: a hosts file, or the droplets with a DigitalOcean tag.

DigitalOcean is asked through its official client (`pydo`): `GET /v2/droplets?tag_name=…`,
page by page until `links.pages.next` is gone; each droplet is reached as `root@<public IPv4>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DO_API = "https://api.digitalocean.com"
PAGE_SIZE = 200  # the API's maximum: fewest round trips
MAX_PAGES = 1000  # a server that always says "next" cannot keep us looping


class InventoryError(Exception):
    """The host list could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Inventory:
    hosts: tuple[str, ...]
    source: str
    skipped: tuple[str, ...] = field(default=())  # droplets that cannot be reached, and why


def unique(hosts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(hosts))


def hosts_from_text(text: str, source: str) -> Inventory:
    """One host per line (`[user@]host[:port]`); `#` starts a comment; blank lines are skipped."""
    hosts = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if len(line.split()) != 1:
            raise InventoryError(f"{source}:{number}: one host per line, got {line!r}")
        hosts.append(line)
    if not hosts:
        raise InventoryError(f"{source} names no host (one per line, # for comments)")
    return Inventory(unique(hosts), source)


def hosts_from_file(path: str | Path) -> Inventory:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InventoryError(f"cannot read hosts file {file}: {reason}") from None
    return hosts_from_text(text, str(file))


def public_ipv4(droplet: dict[str, Any]) -> str | None:
    for network in droplet.get("networks", {}).get("v4", []):
        if network.get("type") == "public" and network.get("ip_address"):
            return network["ip_address"]
    return None


def droplet_pages(client: Any, tag: str) -> Iterator[list[dict[str, Any]]]:
    for page in range(1, MAX_PAGES + 1):
        answer = client.droplets.list(tag_name=tag, per_page=PAGE_SIZE, page=page)
        yield answer.get("droplets", [])
        if not answer.get("links", {}).get("pages", {}).get("next"):
            return
    raise InventoryError(f"DigitalOcean kept saying 'next page' after {MAX_PAGES} pages")


def hosts_from_droplets(droplets: Iterable[dict[str, Any]], tag: str) -> Inventory:
    hosts, skipped = [], []
    for droplet in droplets:
        address = public_ipv4(droplet)
        if address is None:
            skipped.append(f"{droplet.get('name', droplet.get('id'))}: no public IPv4")
        else:
            hosts.append(f"root@{address}")
    if not hosts:
        detail = f" ({'; '.join(skipped)})" if skipped else ""
        raise InventoryError(f"no droplet with tag {tag!r} has a public IPv4{detail}")
    return Inventory(unique(hosts), f"DigitalOcean tag {tag!r}", tuple(skipped))


def hosts_from_digitalocean(tag: str, token: str, endpoint: str = DO_API) -> Inventory:
    """The droplets tagged `tag`, through pydo; errors come back as one InventoryError line."""
    if not token:
        raise InventoryError("--do-tag needs a DigitalOcean API token: set DIGITALOCEAN_TOKEN")
    import pydo  # only fleet runs from a tag pay for importing it
    from azure.core.exceptions import AzureError, HttpResponseError

    client = pydo.Client(token, endpoint=endpoint, timeout=30)
    droplets: list[dict[str, Any]] = []
    try:
        for page in droplet_pages(client, tag):
            droplets.extend(page)
    except HttpResponseError as exc:
        hint = " (check DIGITALOCEAN_TOKEN)" if exc.status_code in (401, 403) else ""
        raise InventoryError(
            f"DigitalOcean answered HTTP {exc.status_code} listing droplets{hint}"
        ) from None
    except AzureError as exc:
        raise InventoryError(f"cannot reach DigitalOcean at {endpoint}: {exc.message}") from None
    return hosts_from_droplets(droplets, tag)
