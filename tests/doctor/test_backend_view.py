"""What the backend's refresh would get, from an answer or an error (no network)."""

from __future__ import annotations

import json

import requests

from tasks.doctor import backend_view as view
from tasks.doctor.backend_view import from_answer, from_error

TOOL = {
    "account_tool_instance_id": "ati-1",
    "instance_name_on_toolbox": "Context7 MCP Server-1750",
    "container_id": "0123456789abcdef",
    "status": "running",
    "image": "mcp/context7:1",
    "created": 1750000000,
}


def body(**fields) -> str:
    return json.dumps({"status": "healthy", "service": "DTMA", "dtma_version": "1", **fields})


def test_a_complete_answer_is_ok_and_says_what_it_holds():
    seen = from_answer(200, body(version="abc", tool_instances=[TOOL]), keyed=True)
    assert seen.kind == view.OK and seen.answered and seen.ours
    assert seen.words == "/status healthy, version abc, 1 tool(s)"


def test_what_makes_the_refresh_throw():
    assert from_answer(500, "{}", True).kind == view.HTTP
    assert from_answer(200, "<html>", True).kind == view.NOT_JSON
    assert from_answer(200, "[1]", True).kind == view.NOT_JSON
    refused = from_answer(403, '{"error": "forbidden"}', True)
    assert refused.kind == view.AUTH and "refuses the backend key" in refused.words
    assert not refused.answered
    assert "asks for credentials" in from_answer(401, "{}", False).words


def test_what_the_backend_misreads_in_a_2xx_answer():
    assert from_answer(200, body(), True).kind == view.MINIMAL
    no_id = {k: v for k, v in TOOL.items() if k != "account_tool_instance_id"}
    assert from_answer(200, body(tool_instances=[no_id]), True).kind == view.SHAPE
    text_created = {**TOOL, "created": "2025-06-15T00:00:00Z"}
    assert from_answer(200, body(tool_instances=[text_created]), True).kind == view.SHAPE
    exited = from_answer(200, body(tool_instances=[{**TOOL, "status": "exited"}]), True)
    assert exited.kind == view.WORDS and "'exited'" in exited.words
    assert (
        from_answer(200, body(tool_instances=[{**TOOL, "status": "RUNNING"}]), True).kind == view.OK
    )


def test_a_misconfigured_or_degraded_agent_says_so():
    missing = body(status="misconfigured", missing=["BACKEND_TO_DTMA_API_KEY"], tool_instances=[])
    seen = from_answer(200, missing, True)
    assert seen.kind == view.MISCONFIGURED and "BACKEND_TO_DTMA_API_KEY" in seen.words
    degraded = from_answer(
        200, body(status="degraded", reason="no socket", tool_instances=[]), True
    )
    assert degraded.kind == view.DEGRADED and "no socket" in degraded.words


def test_network_errors_in_words():
    assert from_error(requests.ReadTimeout("slow"), True, 10).words == "no answer within 10 s"
    refused = requests.ConnectionError("[Errno 111] Connection refused")
    assert from_error(refused, True, 10).kind == view.REFUSED
    reset = requests.ConnectionError("('Connection aborted.', RemoteDisconnected(...))")
    assert from_error(reset, False, 10).words == "connection closed without an answer"
