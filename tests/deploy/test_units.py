"""The one byte formatter (SI, 1000) and durations."""

from tasks.units import human_bytes, human_duration


def test_human_bytes():
    assert [human_bytes(n) for n in (12, 2_200, 153_000_000)] == ["12 B", "2.2 KB", "153.0 MB"]


def test_human_units():
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KB"
    assert human_bytes(3 * 1000**3) == "3.0 GB"
    assert human_duration(9.4) == "9s"
    assert human_duration(75) == "1m15s"
