"""The backend's refresh rules, emulated: pure, no host."""

from __future__ import annotations

import json

import pytest

from smoke_tests.backend_refresh import (
    instance_status,
    js_or,
    refresh_from_answer,
    refresh_from_network_error,
)

FULL = {
    "status": "healthy",
    "version": "1.2.3",
    "environment": {"hasApiKey": True},
    "system_metrics": {"cpu_load_percent": 3},
    "tool_instances": [
        {"account_tool_instance_id": "ati-1", "status": "running"},
        {"account_tool_instance_id": "ati-2", "status": "stopped"},
        {"account_tool_instance_id": "ati-3", "status": "starting"},
        {"account_tool_instance_id": "ati-4", "status": "exited"},
        {"instance_name_on_toolbox": "no-id", "status": "running"},
    ],
}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("running", "running"),
        ("stopped", "stopped"),
        ("STOPPED", "stopped"),
        ("pending", "deploying"),
        ("starting", "deploying"),
        ("stopping", "deploying"),
        ("error", "error"),
        # Docker's own words are not the backend's: a stopped tool would show as broken.
        ("exited", "error"),
        ("created", "error"),
        ("restarting", "error"),
        ("paused", "error"),
        ("dead", "error"),
        (None, "error"),
        (3, "error"),
    ],
)
def test_instance_status_follows_the_backend_mapping(word: object, expected: str) -> None:
    assert instance_status(word) == expected


def test_a_full_report_marks_the_toolbox_active_with_its_version_and_instances() -> None:
    outcome = refresh_from_answer(200, json.dumps(FULL))
    assert outcome.succeeded
    assert outcome.toolbox_status == "active"
    assert outcome.version == "1.2.3"
    assert outcome.health_details == {"hasApiKey": True}
    assert outcome.instance_statuses == {
        "ati-1": "running",
        "ati-2": "stopped",
        "ati-3": "deploying",
        "ati-4": "error",
    }
    assert outcome.ignored_items == 1


def test_version_and_health_fall_back_like_javascript_or() -> None:
    body = {"version": "", "dtma_version": "9", "environment": {}, "system_metrics": {"a": 1}}
    outcome = refresh_from_answer(200, json.dumps(body))
    assert outcome.version == "9"
    assert outcome.health_details == {"a": 1}
    bare = refresh_from_answer(200, json.dumps({"status": "healthy"}))
    assert bare.succeeded and bare.version is None
    assert bare.health_details == {"status": "healthy"}  # the whole body, as the backend does
    assert bare.instance_statuses == {}


def test_js_or_returns_the_last_value_when_none_is_truthy() -> None:
    assert js_or(None, "", 0) == 0
    assert js_or(None, "x", "y") == "x"


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_a_non_2xx_answer_fails_the_refresh(status: int) -> None:
    outcome = refresh_from_answer(status, json.dumps(FULL))
    assert not outcome.succeeded
    assert outcome.toolbox_status == "unresponsive"
    assert f"HTTP {status}" in (outcome.error or "")


@pytest.mark.parametrize(
    ("text", "said"),
    [("<html>ok</html>", "not JSON"), ("null", "NoneType"), ("[1]", "list")],
)
def test_a_body_that_is_not_a_json_object_fails_the_refresh(text: str, said: str) -> None:
    outcome = refresh_from_answer(200, text)
    assert not outcome.succeeded
    assert said in (outcome.error or "")


def test_tool_instances_that_is_not_a_list_updates_nothing() -> None:
    outcome = refresh_from_answer(200, json.dumps({"version": "1", "tool_instances": {"a": 1}}))
    assert outcome.succeeded and outcome.instance_statuses == {}


def test_a_network_error_fails_the_refresh_with_its_reason() -> None:
    outcome = refresh_from_network_error("connection refused at http://h:30000/status")
    assert not outcome.succeeded
    assert outcome.error == (
        "Failed to refresh status from DTMA: DTMA unreachable: "
        "connection refused at http://h:30000/status"
    )
