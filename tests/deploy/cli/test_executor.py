"""The per-host summary at the end of a run over several hosts."""

from tasks.cli.executor import summary


def test_summary_names_every_host_in_order():
    text = summary(["a", "b", "c"], {"a": ("deployed", "v2"), "b": ("rolled back", "boom")})
    lines = text.splitlines()
    assert lines[0] == "summary:"
    assert lines[1].split()[:2] == ["a", "deployed"]
    assert lines[2].split()[:3] == ["b", "rolled", "back"]
    assert lines[3].split()[:2] == ["c", "untouched"]
