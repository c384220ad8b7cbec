"""Build contexts for the benchmark: private git copies of the project, changed per round.

Each pipeline gets its own copy, so neither reuses the other's build cache for a change, and the
copy is a git repository, so the deploy tool versions each change as it would on a checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Which file each case edits; the line is replaced each round (the Dockerfile copies
# requirements.txt on its own before `pip install`, so a comment change there rebuilds the
# dependency layer without depending on what the package index serves today).
EDITED_FILE = {"code": "dtma/__init__.py", "deps": "dtma/requirements.txt"}
MARKER = "# bench marker: "
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def project_files(project: Path = PROJECT_DIR) -> list[str]:
    """Tracked and untracked-but-not-ignored files: what a checkout of the project holds."""
    listed = subprocess.run(
        ["git", "-C", str(project), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    )
    names = (n.decode() for n in listed.stdout.split(b"\0") if n)
    return sorted(n for n in names if (project / n).is_file())


def make_context(target: Path, project: Path = PROJECT_DIR) -> Path:
    """Copy the project into `target` and commit it there, so later edits show as a new version."""
    for name in project_files(project):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / name, destination)
    env = {**os.environ, **GIT_IDENTITY}
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench base"]):
        subprocess.run(["git", "-C", str(target), *argv], env=env, capture_output=True, check=True)
    return target


def with_marker(text: str, marker: str) -> str:
    """`text` with its marker line replaced by (or, without one, ended with) `marker`."""
    lines = [line for line in text.splitlines() if not line.startswith(MARKER)]
    return "\n".join([*lines, MARKER + marker]) + "\n"


def apply_change(context: Path, case: str, marker: str) -> None:
    """Change one line for `case` ("code" or "deps"); other cases deploy the context as it is."""
    name = EDITED_FILE.get(case)
    if name is None:
        return
    path = context / name
    path.write_text(with_marker(path.read_text(), marker))
