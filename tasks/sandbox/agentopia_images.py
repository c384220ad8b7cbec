"""The stand-in images of an Agentopia-provisioned droplet, made from what is on this machine.

No registry is reachable here, so both images are a static busybox plus the scripts in
sandbox/agentopia/, put together with `docker import` (as tests/support/images.py does for the
tool image). Their tags carry a hash of everything they are made of, so a changed script or
busybox builds new images and an unchanged one is never rebuilt.

- the OLD agent (`dtma_manager` on Agentopia's droplets): `serving` answers GET /health and
  /status on 30000 with 200 JSON and binds without SO_REUSEPORT, like the real one; `crashloop`
  exits 1 at once, so `--restart always` restarts it forever;
- the backend (`agentopia_backend`): stays up and has busybox `wget`, `nc`, `cat`, ...
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker

from tasks.images import import_once

PROJECT_DIR = Path(__file__).resolve().parents[2]
SOURCE_DIR = PROJECT_DIR / "sandbox" / "agentopia"
SCRIPTS = ("old-agent", "old-agent-http", "backend")
BUSYBOX = Path("/bin/busybox")
OLD_AGENT_VARIANTS = ("serving", "crashloop")
OLD_AGENT_VERSION = "agentopia-old"


class StandinImageError(RuntimeError):
    """A stand-in image could not be made; the message says what to do."""


@dataclass(frozen=True)
class StandinImage:
    repository: str
    variant: str
    cmd: tuple[str, ...]

    def changes(self) -> list[str]:
        cmd = ", ".join(f'"{word}"' for word in self.cmd)
        return [f"CMD [{cmd}]", "ENV PATH=/bin"]

    def tag(self) -> str:
        digest = hashlib.sha256()
        digest.update(_busybox().read_bytes())
        for name in SCRIPTS:
            digest.update(name.encode() + b"\0" + (SOURCE_DIR / name).read_bytes())
        digest.update("\n".join(self.changes()).encode())
        prefix = f"{self.variant}-" if self.variant else ""
        return f"{self.repository}:{prefix}{digest.hexdigest()[:12]}"


OLD_AGENT = {
    "serving": StandinImage("agentopia-standin-old", "serving", ("/agentopia/old-agent", "serve")),
    "crashloop": StandinImage(
        "agentopia-standin-old", "crashloop", ("/agentopia/old-agent", "crashloop")
    ),
}
BACKEND = StandinImage("agentopia-standin-backend", "", ("/agentopia/backend",))


def _busybox() -> Path:
    if not BUSYBOX.exists():
        raise StandinImageError(f"{BUSYBOX} is missing: apt-get install busybox-static")
    return BUSYBOX


def rootfs_tar() -> bytes:
    """busybox with a link for each of its applets, and the stand-in scripts in /agentopia."""
    busybox = _busybox()
    applets = subprocess.run(
        [str(busybox), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for folder, mode in (("bin", 0o755), ("tmp", 0o1777), ("agentopia", 0o755)):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in sorted(set(applets) - {"busybox"}):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for name in SCRIPTS:
            info = tar.gettarinfo(str(SOURCE_DIR / name), arcname=f"agentopia/{name}")
            info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "root", "root"
            with (SOURCE_DIR / name).open("rb") as handle:
                tar.addfile(info, handle)
    return buf.getvalue()


def ensure_image(client: docker.DockerClient, image: StandinImage) -> str:
    """The image's content-hashed tag, imported into the local engine if it is not there."""
    return import_once(client, image.tag(), rootfs_tar, image.changes())


def ensure_images(client: docker.DockerClient, old_agent: str) -> tuple[str, str]:
    """(old agent tag, backend tag), made locally if missing."""
    if old_agent not in OLD_AGENT:
        raise StandinImageError(
            f"unknown old agent {old_agent!r}: use one of {', '.join(OLD_AGENT_VARIANTS)}"
        )
    return ensure_image(client, OLD_AGENT[old_agent]), ensure_image(client, BACKEND)


def load_into_droplet(droplet: str, tag: str) -> bool:
    """Put a local image into a sandbox droplet's own engine (`docker save | docker exec -i
    DROPLET docker load`) unless it has it already; True when it was sent."""
    has = subprocess.run(
        ["docker", "exec", droplet, "docker", "image", "inspect", tag],
        capture_output=True,
        check=False,
    )
    if has.returncode == 0:
        return False
    save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
    try:
        load = subprocess.run(
            ["docker", "exec", "-i", droplet, "docker", "load", "-q"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        assert save.stdout is not None
        save.stdout.close()
        save.wait()
    if save.returncode != 0 or load.returncode != 0:
        raise StandinImageError(
            f"loading {tag} into {droplet} failed: {(load.stderr or load.stdout).strip()[:200]}"
        )
    return True
