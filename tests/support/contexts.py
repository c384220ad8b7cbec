"""Build contexts of the agent image for tests: copies of the project's inputs, as they are or
as small git repos whose commit is the version."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the Dockerfile needs from the project; copies of the context hold only these.
CONTEXT_FILES = ("Dockerfile", ".dockerignore", "dtma")


def unique(prefix: str = "dtma-sbx") -> str:
    """A name for something this run makes (sandbox, image tag) that no other run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def copy_context(destination: Path) -> Path:
    """A copy of the image's build context (mtimes kept, so the build cache still applies)."""
    for name in CONTEXT_FILES:
        source = ROOT / name
        if source.is_dir():
            skip = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, destination / name, ignore=skip)
        else:
            shutil.copy2(source, destination / name)
    return destination


def make_context(folder: Path, marker: str, dockerfile_tail: str = "") -> Path:
    """A copy of the agent's build inputs as its own git repo: its commit is the version."""
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "dtma", folder / "dtma", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".dockerignore", folder / ".dockerignore")
    (folder / "Dockerfile").write_text((ROOT / "Dockerfile").read_text() + dockerfile_tail)
    init = folder / "dtma" / "__init__.py"
    init.write_text(init.read_text() + f"# build marker: {marker}\n")
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", marker], check=True)
    return folder


def version_of(context: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(context), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()
