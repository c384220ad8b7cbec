"""The kinds of sandbox droplet: which Debian, which Docker, which image store, and the files
each is made of (sandbox/ at the top of the project)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

SANDBOX_FILES = Path(__file__).resolve().parents[2] / "sandbox"
DROPLET_INIT = SANDBOX_FILES / "droplet-init"
DROPLET_PACKAGES = (
    "openssh-server",
    "docker.io",
    "iptables",
    "iproute2",
    "curl",
    "ca-certificates",
    "procps",
    "python3",
)
CONTAINERD_DAEMON_JSON = SANDBOX_FILES / "containerd-daemon.json"
# What the deploy asks of systemd on a real droplet, answered by the droplet's own init.
SYSTEMCTL = ("/usr/local/bin/systemctl", SANDBOX_FILES / "systemctl")


@dataclass(frozen=True)
class Engine:
    """A kind of droplet: which Debian, which Docker, which image store."""

    name: str
    suite: str
    packages: tuple[str, ...]
    files: tuple[tuple[str, Path], ...] = ()  # (path inside, file here)
    data_dirs: tuple[str, ...] = ("/var/lib/docker",)  # each on a volume of its own

    @property
    def image(self) -> str:
        """Named by what it is made of, so a changed init script, package list or engine
        config builds a new image instead of reusing an old one left on the engine."""
        made_of = DROPLET_INIT.read_bytes() + " ".join(self.packages).encode()
        for inside, source in self.files:
            made_of += inside.encode() + source.read_bytes()
        return f"dtma-droplet:{self.suite}-{hashlib.sha256(made_of).hexdigest()[:10]}"


ENGINES = {
    # Debian 12's Docker 20.10: the classic image store.
    "classic": Engine("classic", "bookworm", DROPLET_PACKAGES, files=(SYSTEMCTL,)),
    # Debian 13's Docker 26 on containerd with the containerd image store: the store Docker 29
    # uses on fresh installs (today's droplets) and Docker Desktop uses by default.
    "containerd": Engine(
        "containerd",
        "trixie",
        (*DROPLET_PACKAGES, "docker-cli", "containerd"),
        files=(SYSTEMCTL, ("/etc/docker/daemon.json", CONTAINERD_DAEMON_JSON)),
        data_dirs=("/var/lib/docker", "/var/lib/containerd"),
    ),
}
DROPLET_IMAGE = ENGINES["classic"].image
