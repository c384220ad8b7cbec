"""Test helpers around the sandbox registry (tasks/sandbox/registry.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path


def logged_in(folder: Path, registry: str, user: str, password: str) -> Path:
    """A Docker client config as `docker login` leaves it (auth in config.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))
    return folder
