"""Host metrics from /proc and statvfs: cheap enough to read on every /status call."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def cpu_load_percent(proc: Path = PROC) -> float:
    """1-minute load average as a percentage of the CPU count (no sampling sleep)."""
    load1 = float((proc / "loadavg").read_text().split()[0])
    return round(100.0 * load1 / (os.cpu_count() or 1), 1)


def memory(proc: Path = PROC) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in (proc / "meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            fields[name] = int(parts[0]) * 1024  # meminfo speaks kB
    total = fields.get("MemTotal", 0)
    available = fields.get("MemAvailable", fields.get("MemFree", 0))
    return {"total_bytes": total, "used_bytes": total - available, "free_bytes": available}


def disk(mount: str = "/") -> dict[str, int | str]:
    st = os.statvfs(mount)
    total = st.f_blocks * st.f_frsize
    return {
        "mount": mount,
        "total_bytes": total,
        "used_bytes": (st.f_blocks - st.f_bfree) * st.f_frsize,
        "free_bytes": st.f_bavail * st.f_frsize,
    }


def host_uptime_seconds(proc: Path = PROC) -> float:
    return float((proc / "uptime").read_text().split()[0])


def system_metrics() -> dict:
    return {
        "cpu_load_percent": cpu_load_percent(),
        "memory": memory(),
        "disk": disk("/"),
        "uptime_seconds": host_uptime_seconds(),
    }
