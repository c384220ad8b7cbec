"""Fault 8: the backend hangs. The agent's heartbeat waits in the background; /status, which
the backend itself calls, stays 200 and fast. The agent runs here as `python -m dtma` (it must
reach the loopback stand-in), against this machine's Docker engine."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import pytest
import requests

from tests.faults.support import KEY, TOKEN, assert_smoke_passes, env_text, record
from tests.support.backend import BackendStandIn
from tests.support.contexts import ROOT
from tests.support.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_status_stays_fast_while_the_backend_hangs(tmp_path, docker_client):
    with BackendStandIn(droplet_token=TOKEN, backend_key=KEY) as backend:
        backend.heartbeat_mode = "hang"
        port = free_port()
        env = {
            **os.environ,
            "DTMA_BEARER_TOKEN": TOKEN,
            "BACKEND_TO_DTMA_API_KEY": KEY,
            "AGENTOPIA_API_BASE_URL": backend.api_base_url,
            "HEARTBEAT_INTERVAL_SECONDS": "1",
            "PORT": str(port),
            "PYTHONPATH": str(ROOT),
            "DTMA_SERVING_FILE": str(tmp_path / "serving-port"),  # not the host's /run
        }
        log = (tmp_path / "dtma.log").open("w")
        agent = subprocess.Popen(
            [sys.executable, "-m", "dtma"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        try:
            backend.wait_for_heartbeats(1, timeout=30)  # the first one is now hanging
            url = f"http://127.0.0.1:{port}"
            seconds = []
            for index in range(100):
                headers = {"Authorization": f"Bearer {KEY}"} if index % 2 else {}
                started = time.perf_counter()
                answer = requests.get(f"{url}/status", headers=headers, timeout=5)
                seconds.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text[:300]
            p95 = statistics.quantiles(seconds, n=20)[-1]
            env_file = tmp_path / "agent.env"
            env_file.write_text(env_text())
            assert_smoke_passes(url, env_file)
        finally:
            agent.terminate()
            agent.wait(timeout=15)
            log.close()
    print(f"\n/status, backend hanging: p95 {p95 * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms")
    record(
        "backend hangs",
        status_p95_ms=round(p95 * 1000, 1),
        status_max_ms=round(max(seconds) * 1000, 1),
    )
