"""What an image is, in terms both of Docker's image stores agree on.

The classic store names an image by its config's digest; the containerd store (Docker 29's
default, Docker Desktop's) by its manifest's, which is made when the image is loaded or pulled.
The same image thus has two ids. Both stores show the same layer list (diff ids), the same run
configuration and the same platform: an image's fingerprint is a digest of those, read from
`docker image inspect` on either side. Pure: no Docker, no SSH.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# The run configuration an image carries (OCI image config, `config`): what a container made
# from it runs. Absent, null and empty are one thing: engines differ in which they print.
RUN_CONFIG = (
    "Cmd",
    "Entrypoint",
    "Env",
    "ExposedPorts",
    "Healthcheck",
    "Labels",
    "StopSignal",
    "User",
    "Volumes",
    "WorkingDir",
)
# `docker image inspect --format` of just what a fingerprint reads, as one JSON object. (No
# `.Variant`: some engines' inspect has no such key, and the template then fails.)
INSPECT_FORMAT = (
    '{"RootFS":{{json .RootFS}},"Config":{{json .Config}},'
    '"Os":{{json .Os}},"Architecture":{{json .Architecture}}}'
)


def fingerprint(inspected: Mapping[str, Any]) -> str:
    """`fp:<sha256>` of an image's diff ids, run configuration and platform."""
    config = inspected.get("Config") or {}
    run = {key: config[key] for key in RUN_CONFIG if config.get(key)}
    for key in ("ExposedPorts", "Volumes"):  # sets, printed as maps
        if key in run:
            run[key] = sorted(run[key])
    document = {
        "layers": list((inspected.get("RootFS") or {}).get("Layers") or ()),
        "config": run,
        "platform": "/".join(platform_of(inspected).split("/")[:2]),  # os/arch
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "fp:" + hashlib.sha256(canonical.encode()).hexdigest()


def platform_of(inspected: Mapping[str, Any]) -> str:
    """`os/arch[/variant]`, e.g. linux/amd64 or linux/arm64/v8."""
    parts = [inspected.get("Os") or "linux", inspected.get("Architecture") or "amd64"]
    if inspected.get("Variant"):
        parts.append(inspected["Variant"])
    return "/".join(parts)


def parse_inspect_line(line: str) -> dict[str, Any] | None:
    """One INSPECT_FORMAT line, or None when the image is missing (empty or no JSON)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


# Docker's and Go's names for machines, as `uname -m` prints them.
MACHINE_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def docker_arch(machine: str) -> str:
    """Docker's architecture name for a `uname -m` or `docker version` answer."""
    return MACHINE_ARCH.get(machine.strip(), machine.strip())
