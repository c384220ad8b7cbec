"""Every frame a sandbox droplet's eth0 sees, captured from this machine: an AF_PACKET socket
opened inside the droplet's network namespace (nsenter), bytes appended to a file. What a test
then looks for (a token) is searched in the raw bytes: plain HTTP shows it, SSH never does."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker

from tests.support.readiness import wait_until

CAPTURE = """
import socket, sys
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
sock.bind(("eth0", 0))
with open(sys.argv[1], "ab", buffering=0) as out:
    out.write(b"")
    while True:
        out.write(sock.recv(65535))
"""


@contextmanager
def eth0_capture(droplet: str, into: Path) -> Iterator[Path]:
    """Capture the droplet's eth0 into `into` for the duration of the block."""
    pid = docker.from_env().containers.get(droplet).attrs["State"]["Pid"]
    argv = ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", CAPTURE, str(into)]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: into.exists() or None, "the capture to start", deadline=30)
        yield into
    finally:
        process.kill()
        process.wait()
