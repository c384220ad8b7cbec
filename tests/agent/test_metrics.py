"""Host metrics read from /proc-style files and statvfs (pure code, no host assumptions)."""

from __future__ import annotations

import os

from dtma import metrics


def fake_proc(tmp_path, load: str = "1.50 0.80 0.40 2/300 4242"):
    (tmp_path / "loadavg").write_text(load + "\n")
    (tmp_path / "meminfo").write_text(
        "MemTotal:        2000000 kB\nMemFree:          100000 kB\nMemAvailable:     500000 kB\n"
    )
    (tmp_path / "uptime").write_text("12345.67 20000.00\n")
    return tmp_path


def test_cpu_load_is_the_one_minute_average_per_cpu(tmp_path):
    expected = round(100 * 1.5 / (os.cpu_count() or 1), 1)
    assert metrics.cpu_load_percent(fake_proc(tmp_path)) == expected


def test_memory_counts_available_as_free(tmp_path):
    assert metrics.memory(fake_proc(tmp_path)) == {
        "total_bytes": 2_048_000_000,
        "used_bytes": 1_536_000_000,
        "free_bytes": 512_000_000,
    }


def test_uptime_is_the_first_field(tmp_path):
    assert metrics.host_uptime_seconds(fake_proc(tmp_path)) == 12345.67


def test_disk_of_root_is_consistent():
    disk = metrics.disk("/")
    assert disk["mount"] == "/"
    assert 0 < disk["free_bytes"] <= disk["total_bytes"]
    assert 0 < disk["used_bytes"] <= disk["total_bytes"]
