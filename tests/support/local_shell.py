"""Running the deploy's shell scripts in a real local shell, with stand-in tools on PATH."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


def run_with_path(argv: Sequence[str], path: str) -> subprocess.CompletedProcess[str]:
    """Run argv with only `path` to find programs on."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, env={**os.environ, "PATH": path}
    )


def fake_docker(folder: Path) -> str:
    """A `docker` that prints nothing and fails, like a client whose engine is down."""
    folder.mkdir()
    script = folder / "docker"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"
