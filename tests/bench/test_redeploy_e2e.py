"""The benchmark's quick variant runs end to end against real sandbox droplets.

Only that figures exist and are numbers: their values are the benchmark's business, never a test's.
"""

import json
import math
import subprocess
import sys
from numbers import Real

import docker
import pytest

from bench.contexts import PROJECT_DIR

QUICK = ["--rounds", "1", "--cases", "code", "--warmup", "0"]


def bench_sandboxes(client: docker.DockerClient) -> set[str]:
    containers = client.containers.list(all=True, filters={"label": "dtma.sandbox"})
    return {c.name for c in containers if c.name.startswith("dtma-bench-")}


def is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_quick_variant_measures_both_pipelines_and_writes_json(tmp_path, docker_client):
    before = bench_sandboxes(docker_client)
    done = subprocess.run(
        [sys.executable, "-m", "bench.redeploy", *QUICK, "--out", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "bytes on the wire" in done.stdout and "goals:" in done.stdout

    written = list(tmp_path.glob("*.json"))
    assert len(written) == 1
    result = json.loads(written[0].read_text())
    assert result["ours"]["available"] is True, result["ours"]
    measured = {m["pipeline"]: m for m in result["measurements"] if m["case"] == "code"}
    assert set(measured) == {"baseline", "ours"}
    for pipeline, m in measured.items():
        assert m["error"] is None, (pipeline, m["error"])
        figures = [m["wall_seconds"], m["wire_bytes"], *m["downtime"].values()]
        assert all(is_number(v) for v in figures), (pipeline, m)
    summary = result["cases"]["code"]["summary"]
    for pipeline in ("baseline", "ours"):
        assert all(is_number(s["median"]) for s in summary[pipeline].values()), summary
    assert all(is_number(result["machine"][key]) for key in ("cores", "memory_bytes"))
    assert bench_sandboxes(docker_client) <= before  # every droplet it started is gone
