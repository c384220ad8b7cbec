"""Sandbox droplets for a test module: unique names, and removed even when starting one failed
half-way (the finalizer runs whatever happened)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from tasks import sandbox
from tests.support.ports import free_port


def sandbox_for_tests(prefix: str) -> Iterator[sandbox.Sandbox]:
    """`yield from` this in a fixture."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    try:
        yield sandbox.up(name, free_port(), free_port(), quiet=True)
    finally:
        sandbox.down(name)
