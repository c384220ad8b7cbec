"""Sandbox droplets for a test module: unique names, and removed even when starting one failed
half-way (the finalizer runs whatever happened)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

from tasks import sandbox
from tests.support.ports import free_port

# Which engine kind the droplets of this run have, unless a test names one: `make test` runs
# the deploy's e2e modules once more with DTMA_TEST_ENGINE=containerd.
ENGINE = os.environ.get("DTMA_TEST_ENGINE", "classic")


def sandbox_for_tests(prefix: str, engine: str = "") -> Iterator[sandbox.Sandbox]:
    """`yield from` this in a fixture."""
    engine = engine or ENGINE
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    try:
        yield sandbox.up(name, free_port(), free_port(), engine=engine, quiet=True)
    finally:
        sandbox.down(name)
