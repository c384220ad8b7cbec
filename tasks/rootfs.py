"""Local base images made from Debian's own mirror: no image registry is needed.

`debootstrap` fills a temporary folder with a minimal Debian, `docker import` turns it into an
image. Used for the agent's local base image and for the sandbox droplet image.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import docker

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# The host's bundle holds the CA of any TLS-intercepting proxy in front of this machine; it is
# public data, and without it pip inside a build cannot reach the package index.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCK_DIR = Path(tempfile.gettempdir())


class RootfsBuildFailed(RuntimeError):
    """debootstrap or docker import failed; the message says which and why."""


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def debootstrap_argv(packages: Sequence[str], target: Path, suite: str = SUITE) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        suite,
        str(target),
        MIRROR,
    ]


def import_argv(tag: str, changes: Sequence[str]) -> list[str]:
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    return [*argv, "-", tag]


def ensure_rootfs_image(
    client: docker.DockerClient,
    tag: str,
    *,
    packages: Sequence[str],
    changes: Sequence[str] = (),
    files: Mapping[str, Path] | None = None,
    prune: Sequence[str] = (),
    suite: str = SUITE,
    quiet: bool = False,
) -> str:
    """Return `tag`, building it once with debootstrap + docker import when it is missing.

    `files` maps absolute paths inside the root filesystem to host files copied in before import;
    `prune` lists folders inside it whose contents are dropped (docs, locales, apt lists).
    A lock file makes concurrent callers wait for one build instead of running two.
    """
    if image_exists(client, tag):
        return tag
    if shutil.which("debootstrap") is None:
        raise RootfsBuildFailed(
            f"cannot build {tag}: debootstrap is missing (apt-get install debootstrap, "
            "or run `make engine`)"
        )
    lock_path = LOCK_DIR / f"dtma-rootfs-{tag.replace('/', '_').replace(':', '_')}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(client, tag):
            return tag
        _build(tag, packages, changes, dict(files or {}), prune, suite, quiet)
    return tag


def _build(
    tag: str,
    packages: Sequence[str],
    changes: Sequence[str],
    files: dict[str, Path],
    prune: Sequence[str],
    suite: str,
    quiet: bool,
) -> None:
    say = (lambda _msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    workdir = Path(tempfile.mkdtemp(prefix="dtma-rootfs-"))
    rootfs = workdir / "rootfs"
    try:
        say(f"building {tag} (debootstrap {suite} from {MIRROR}, about a minute, once)...")
        started = time.monotonic()
        _run(debootstrap_argv(packages, rootfs, suite), f"debootstrap for {tag}")
        if HOST_CA_BUNDLE.exists():
            files.setdefault(str(HOST_CA_BUNDLE), HOST_CA_BUNDLE)
        for inside, source in files.items():
            destination = rootfs / inside.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        # apt's downloaded packages are of no use inside an image.
        for folder in ("var/cache/apt/archives", *(p.strip("/") for p in prune)):
            for entry in (rootfs / folder).glob("*"):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        say(f"  debootstrap done in {time.monotonic() - started:.0f} s; docker import {tag}...")
        started = time.monotonic()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            _run(import_argv(tag, changes), f"docker import of {tag}", stdin=tar.stdout)
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait()
        say(f"  imported {tag} in {time.monotonic() - started:.0f} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(argv: list[str], step: str, stdin=None) -> None:
    done = subprocess.run(argv, stdin=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RootfsBuildFailed(f"{step} failed (exit {done.returncode}): {' | '.join(tail)}")
