"""scripts.load_staged in a real shell, with a stub `docker` first on PATH (what the script
asks of Docker is one `docker load -i FILE`; the real load runs in tests/deploy/e2e)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tasks.commands import scripts
from tasks.commands.shell import to_shell


@pytest.fixture
def stub_docker(tmp_path: Path) -> Path:
    """A `docker` that records its arguments and answers like a load (or fails when asked)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "docker"
    stub.write_text(
        '#!/bin/sh\necho "$@" >> "$STUB_LOG"\n'
        '[ "$1" = load ] || { echo "sha256:abc linux/amd64 $5"; exit 0; }\n'
        '[ -z "$STUB_FAIL" ] || { echo "Error processing tar file" >&2; exit 1; }\n'
        'echo "Loaded image: dtma:v2"\n'
    )
    stub.chmod(0o755)
    return bin_dir


def load(stub_docker: Path, part: Path, final: Path, sha: str, fail: bool = False):
    env = {
        **os.environ,
        "PATH": f"{stub_docker}:{os.environ['PATH']}",
        "STUB_LOG": str(stub_docker / "calls"),
        "STUB_FAIL": "1" if fail else "",
    }
    line = to_shell(scripts.load_staged(str(part), str(final), sha, "dtma:v2"))
    return subprocess.run(["sh", "-c", line], env=env, capture_output=True, text=True)


def staged(tmp_path: Path) -> tuple[Path, Path, str]:
    part = tmp_path / "ship-1.tar.gz.part"
    part.write_bytes(b"archive bytes")
    return part, tmp_path / "ship-1.tar.gz", hashlib.sha256(b"archive bytes").hexdigest()


def test_the_archive_sent_is_loaded_and_removed(tmp_path, stub_docker):
    part, final, sha = staged(tmp_path)
    done = load(stub_docker, part, final, sha)
    assert done.returncode == 0 and "Loaded image: dtma:v2" in done.stdout
    assert done.stdout.splitlines()[-1] == "identity=sha256:abc linux/amd64 dtma:v2"
    calls = (stub_docker / "calls").read_text().splitlines()
    assert calls[0] == f"load -i {final}"  # the renamed file
    assert calls[1].startswith("image inspect --format ") and calls[1].endswith(" dtma:v2")
    assert not part.exists() and not final.exists()


def test_an_archive_that_differs_is_never_loaded(tmp_path, stub_docker):
    part, final, _ = staged(tmp_path)
    done = load(stub_docker, part, final, "0" * 64)
    assert done.returncode == scripts.CHECKSUM_DIFFERS
    assert "differs from the sent one" in done.stderr
    assert not (stub_docker / "calls").exists()
    assert not part.exists() and not final.exists()


def test_a_refused_load_says_why_and_leaves_nothing(tmp_path, stub_docker):
    part, final, sha = staged(tmp_path)
    done = load(stub_docker, part, final, sha, fail=True)
    assert done.returncode == 1 and "Error processing tar file" in done.stdout
    assert not part.exists() and not final.exists()
