"""Tiny images the tests build locally: no registry is reachable from these machines."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import docker

from tasks.images import import_once

BUSYBOX = Path("/bin/busybox")
# The tag names the config: an image left by an older checkout is never taken for this one.
TOOL_IMAGE = "dtma-test-tool:busybox-stops-on-term"


def busybox_rootfs_tar() -> bytes:
    """A root filesystem holding only a static busybox, with /bin/sh pointing at it."""
    if not BUSYBOX.exists():
        raise RuntimeError(f"{BUSYBOX} is missing: apt-get install busybox-static")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for folder in ("bin", "tmp", "www"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "sleep", "httpd"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buf.getvalue()


def ensure_tool_image(client: docker.DockerClient, tag: str = TOOL_IMAGE) -> str:
    """Import the busybox image once; its default command is a small web server on port 8080
    that stops at once on SIGTERM (as PID 1, httpd alone would ignore it and every `docker stop`
    would wait out its 10 s)."""
    changes = [
        'CMD ["/bin/sh", "-c", "trap \'exit 0\' TERM; /bin/httpd -f -p 8080 -h /www & wait"]',
        "EXPOSE 8080",
    ]
    return import_once(client, tag, busybox_rootfs_tar, changes)
