"""The heartbeat against the backend stand-in: header, payload, cadence, backoff, clean stop."""

from __future__ import annotations

import itertools
import time

import jsonschema
import pytest

from dtma import __version__
from dtma.contract import HEARTBEAT_SCHEMA
from dtma.heartbeat import Heartbeat, next_delay
from dtma.tools import ToolStore
from tests.agent.conftest import BACKEND_KEY, DROPLET_TOKEN, settings_for, unreachable_docker
from tests.support.backend import BackendStandIn
from tests.support.readiness import wait_until


@pytest.fixture
def backend():
    with BackendStandIn(droplet_token=DROPLET_TOKEN, backend_key=BACKEND_KEY) as stand_in:
        yield stand_in


def running_heartbeat(backend, interval: str, store: ToolStore | None = None) -> Heartbeat:
    settings = settings_for(
        AGENTOPIA_API_BASE_URL=backend.api_base_url, HEARTBEAT_INTERVAL_SECONDS=interval
    )
    beat = Heartbeat(settings, store or ToolStore(unreachable_docker), time.monotonic())
    beat.start()
    return beat


def gaps(beats) -> list[float]:
    return [later.at - earlier.at for earlier, later in itertools.pairwise(beats)]


def test_backoff_doubles_and_is_capped():
    assert next_delay(60, 0) == 60
    assert [next_delay(60, n) for n in (1, 2, 3, 10)] == [120, 240, 300, 300]
    assert next_delay(1, 3) == 8
    assert next_delay(600, 5) == 600  # an interval above the cap is never shortened


def test_beats_carry_the_droplet_token_and_the_contract_payload(backend):
    beat = running_heartbeat(backend, "1")
    try:
        beats = backend.wait_for_heartbeats(2, timeout=10)
    finally:
        beat.stop()
    for received in beats:
        assert received.authorization == f"Bearer {DROPLET_TOKEN}"
        jsonschema.validate(received.body, HEARTBEAT_SCHEMA)
        assert received.body["dtma_version"] == __version__
        assert received.body["system_status"]["status"] == "degraded"  # no engine here
        assert received.body["system_status"]["memory"]["total_bytes"] > 0


def test_failures_back_off_with_growing_gaps(backend):
    backend.heartbeat_mode = "error"
    beat = running_heartbeat(backend, "0.5")
    try:
        beats = backend.wait_for_heartbeats(3, timeout=15)
    finally:
        beat.stop()
    first, second = gaps(beats[:3])
    assert second > first * 1.5  # 1 s then 2 s after consecutive 500s


def test_the_log_says_when_beats_are_taken_again(backend, caplog):
    """`fab doctor` reads the log's last heartbeat line: after failures it must not stay the
    last word once the backend takes beats again."""
    backend.heartbeat_mode = "error"
    beat = running_heartbeat(backend, "0.2")
    try:
        backend.wait_for_heartbeats(2, timeout=15)
        backend.heartbeat_mode = "ok"
        wait_until(
            lambda: any("takes them again" in r.getMessage() for r in caplog.records) or None,
            "the heartbeat's recovery line",
        )
    finally:
        beat.stop()
    said = [r.getMessage() for r in caplog.records if "heartbeat" in r.getMessage()]
    assert said[-1].startswith("heartbeat: the backend takes them again after"), said


def test_hanging_receiver_times_out_and_backs_off(backend):
    backend.heartbeat_mode = "hang"
    beat = running_heartbeat(backend, "0.5")
    try:
        beats = backend.wait_for_heartbeats(3, timeout=20)
    finally:
        beat.stop()
    first, second = gaps(beats[:3])
    assert second > first  # (1 s timeout + 1 s) then (1 s timeout + 2 s)


def test_stop_ends_the_thread_even_while_the_receiver_hangs(backend):
    backend.heartbeat_mode = "hang"
    beat = running_heartbeat(backend, "2")
    backend.wait_for_heartbeats(1)
    beat.stop(timeout=10)
    # The beat in flight ends by its own request timeout; the loop must not start another.
    assert not beat._thread.is_alive()
    count = len(backend.heartbeats)
    time.sleep(1.5)
    assert len(backend.heartbeats) == count


def test_disabled_without_token_or_url(backend, caplog):
    settings = settings_for(DTMA_BEARER_TOKEN="", AGENTOPIA_API_BASE_URL="")
    beat = Heartbeat(settings, ToolStore(unreachable_docker), time.monotonic())
    beat.start()
    beat.stop()
    assert beat._thread is None
    assert "DTMA_BEARER_TOKEN, AGENTOPIA_API_BASE_URL not set" in caplog.text


@pytest.mark.e2e
def test_managed_tools_are_reported_with_their_instance_ids(backend, client, tool_image, tool_name):
    body = {
        "dockerImageUrl": tool_image,
        "instanceNameOnToolbox": tool_name,
        "accountToolInstanceId": "ati-heartbeat",
    }
    assert (
        client.post(
            "/tools", json=body, headers={"Authorization": f"Bearer {BACKEND_KEY}"}
        ).status_code
        == 201
    )
    beat = running_heartbeat(backend, "60", store=ToolStore())
    try:
        received = backend.wait_for_heartbeats(1)[0]
    finally:
        beat.stop()
    jsonschema.validate(received.body, HEARTBEAT_SCHEMA)
    assert received.body["system_status"]["status"] == "healthy"
    ours = [
        t
        for t in received.body["tool_statuses"]
        if t["account_tool_instance_id"] == "ati-heartbeat"
    ]
    assert len(ours) == 1
    assert ours[0]["status_on_toolbox"] == "running"
    assert ours[0]["runtime_details"]["state_details"]["status"] == "running"
    assert backend.heartbeat_statuses["ati-heartbeat"] == "running"
    assert backend.heartbeat_rejected == []  # every word fits the enum column
    assert ours[0]["runtime_details"]["image"] == tool_image
    assert ours[0]["runtime_details"]["started_at"]
