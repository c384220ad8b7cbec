"""The smoke suite's pure parts: settings, masking, the status contract, container rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from smoke_tests.promises import mask
from smoke_tests.restart_policy import container_problems, inspect_argv, ssh_target
from smoke_tests.settings import SettingsError, resolve, split_host
from smoke_tests.status_contract import contract_diff, unhealthy_reason
from smoke_tests.tokens import near_misses

GOOD_STATUS = {
    "status": "healthy",
    "version": "1.0.0",
    "environment": {},
    "tool_instances": [{"account_tool_instance_id": "ati-1", "status": "running"}],
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("droplet", ("droplet", 30000)),
        ("10.0.0.5:31000", ("10.0.0.5", 31000)),
        ("[::1]:8080", ("::1", 8080)),
        ("::1", ("::1", 30000)),
    ],
)
def test_split_host(value: str, expected: tuple[str, int]) -> None:
    assert split_host(value, 30000) == expected


def test_settings_come_from_options_then_env_then_defaults(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# c\nDTMA_BEARER_TOKEN=droplet\nBACKEND_TO_DTMA_API_KEY='backend'\n")
    environ = {"DTMA_SMOKE_HOST": "h", "DTMA_SMOKE_ENV_FILE": str(env_file)}
    settings = resolve({"smoke_port": "31000"}, environ)
    assert (settings.host, settings.port, settings.latency_budget) == ("h", 31000, 2.0)
    assert settings.api_key == "backend"  # the backend's key wins over the droplet token
    assert "backend" not in repr(settings) and "backend" not in settings.key_source
    assert resolve({"smoke_host": "o", "smoke_api_key": "k"}, environ).host == "o"


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ({}, "--host is required"),
        ({"smoke_host": "h"}, "no key"),
        ({"smoke_host": "h:99999", "smoke_api_key": "k"}, "not a port number"),
        ({"smoke_host": "h", "smoke_api_key": "k", "smoke_scheme": "ftp"}, "http or https"),
        ({"smoke_host": "h", "smoke_api_key": "k", "smoke_refresh_url": "u"}, "go together"),
        ({"smoke_host": "h", "smoke_api_key": "k", "smoke_destructive": True}, "--tool-image"),
        ({"smoke_host": "h", "smoke_env_file": "/nonexistent/.env"}, "cannot read it"),
        ({"smoke_host": "h", "smoke_api_key": "k", "smoke_timeout": "0"}, "more than 0"),
        ({"smoke_host": "h", "smoke_api_key": "k", "smoke_timeout": "nan"}, "finite"),
    ],
)
def test_bad_settings_say_what_is_wrong(raw: dict[str, object], said: str) -> None:
    with pytest.raises(SettingsError, match=said):
        resolve(raw, {})


def test_mask_hides_every_secret_longest_first() -> None:
    assert mask("a key-123 in jwt-key-123-x", ("key-123", "jwt-key-123-x")) == "a *** in ***"


def test_a_fitting_status_has_no_diff() -> None:
    assert contract_diff(GOOD_STATUS) == []
    assert contract_diff({**GOOD_STATUS, "version": None, "dtma_version": "1"}) != []


def test_the_diff_names_each_missing_or_wrong_field() -> None:
    body = {
        "status": "healthy",
        "system_metrics": [],
        "tool_instances": [{"status": "running"}, {"account_tool_instance_id": 7}],
    }
    diff = contract_diff(body)
    assert "- version or dtma_version: missing (the toolbox row records no DTMA version)" in diff
    assert any(line.startswith("~ system_metrics: expected a JSON object, got []") for line in diff)
    assert any(
        line.startswith("- tool_instances[0].account_tool_instance_id: missing") for line in diff
    )
    assert any(line.startswith("- tool_instances[1].status: missing") for line in diff)
    assert any(
        line.startswith("~ tool_instances[1].account_tool_instance_id: expected a JSON string")
        for line in diff
    )


def test_the_unhealthy_reason_is_what_the_agent_says() -> None:
    body = {"status": "misconfigured", "missing": ["DTMA_BEARER_TOKEN"], "version": "1"}
    assert unhealthy_reason(body) == 'missing: ["DTMA_BEARER_TOKEN"]'
    assert "no reason" in unhealthy_reason({"status": "degraded"})


def container(**overrides: object) -> dict[str, object]:
    inspected: dict[str, object] = {
        "State": {"Status": "running"},
        "HostConfig": {
            "RestartPolicy": {"Name": "unless-stopped"},
            "PortBindings": {"30000/tcp": [{"HostIp": "", "HostPort": "30000"}]},
        },
        "Mounts": [{"Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock"}],
    }
    inspected.update(overrides)
    return inspected


def test_a_well_run_container_has_no_problems() -> None:
    assert container_problems(container()) == []
    assert inspect_argv("dtma") == ["docker", "inspect", "--type", "container", "dtma"]


def test_each_container_problem_is_named() -> None:
    inspected = container(
        HostConfig={"RestartPolicy": {"Name": "no"}, "PortBindings": {"3030/tcp": []}},
        Mounts=[],
        State={"Status": "restarting"},
    )
    problems = " | ".join(container_problems(inspected))
    assert "restart policy is 'no'" in problems
    assert "/var/run/docker.sock is not mounted" in problems
    assert "port 30000 is not published" in problems
    assert "'restarting'" in problems


def test_ssh_target() -> None:
    assert ssh_target("root@h:2222") == ("root", "h", 2222)
    assert ssh_target("h") == (None, "h", 22)


def test_mask_hides_any_long_enough_part_of_a_secret() -> None:
    key = "smoke-key-0f3a9c1e7b2d4a6f"
    assert mask(f"cut: Bearer {key[:12]}", (key,)) == "cut: Bearer ***"
    assert mask(f"tail {key[-9:]}!", (key,)) == "tail ***!"
    assert mask(f"short {key[:5]} stays", (key,)) == f"short {key[:5]} stays"  # under 8: noise


def test_near_misses_differ_from_the_token_each_in_its_own_way() -> None:
    misses = near_misses("Key-abc123")
    assert misses == {
        "same length, one character changed": "Key-axc123",
        "a prefix": "Key-abc12",
        "the key plus one character": "Key-abc123x",
        "different case": "kEY-ABC123",
    }
    assert "different case" not in near_misses("0123456789")  # no letters: same as the token


def test_settings_know_both_tokens_of_an_env_file_and_hide_their_near_misses(tmp_path) -> None:
    env = tmp_path / ".env"
    env.write_text("BACKEND_TO_DTMA_API_KEY=backend-key-1\nDTMA_BEARER_TOKEN=droplet-tok-2\n")
    settings = resolve({"smoke_host": "h", "smoke_env_file": str(env)}, {})
    assert settings.tokens == ("backend-key-1", "droplet-tok-2")
    assert "backend-key-" in settings.secrets and "DROPLET-TOK-2" in settings.secrets
