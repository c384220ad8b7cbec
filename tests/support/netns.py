"""A fresh network namespace for the calling thread (root only), left again at the end.

Threads and processes started inside inherit it; the namespace disappears once the last of them
ends. Used to set per-namespace sysctls (net.ipv4.tcp_migrate_req) without touching the host's.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class NoNamespace(RuntimeError):
    """This process may not make a network namespace (not root, or no CAP_SYS_ADMIN)."""


@contextmanager
def fresh_network_namespace(sysctls: dict[str, str] | None = None) -> Iterator[None]:
    """Enter a new network namespace with loopback up and `sysctls` set; go back afterwards."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise NoNamespace(f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}")
        try:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            for name, value in (sysctls or {}).items():
                Path("/proc/sys", *name.split(".")).write_text(value)
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "could not return to the original namespace")
    finally:
        os.close(home)
