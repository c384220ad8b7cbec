"""Strict validation before Docker: host addresses, unknown override keys, instance ids, docs.

The engine is unreachable in these tests: a 400 (not 503) proves Docker was never asked.
"""

from __future__ import annotations

import pytest

from tests.agent.conftest import BACKEND_KEY, auth

HEADERS = auth(BACKEND_KEY)


def body_with(override: dict | None = None, **fields: str) -> dict:
    body = {
        "dockerImageUrl": "x:1",
        "instanceNameOnToolbox": "tool-1",
        "accountToolInstanceId": "ati-1",
        **fields,
    }
    if override is not None:
        body["baseConfigOverrideJson"] = override
    return body


def binding(host_ip: str) -> dict:
    return {"HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": host_ip, "HostPort": "1"}]}}}


@pytest.mark.parametrize("host_ip", ["127.1", "0177.0.0.1", ".", "localhost", "1.2.3.4.5", ":::"])
def test_host_ip_must_be_an_ip_address(offline_client, host_ip):
    response = offline_client.post("/tools", json=body_with(binding(host_ip)), headers=HEADERS)
    assert response.status_code == 400, response.text
    assert "HostIp: not an IP address" in response.json()["error"]


@pytest.mark.parametrize("host_ip", ["", "127.0.0.1", "0.0.0.0", "::1", "fd00::5"])
def test_real_addresses_pass_validation(offline_client, host_ip):
    response = offline_client.post("/tools", json=body_with(binding(host_ip)), headers=HEADERS)
    assert response.status_code == 503  # through validation, stopped only by the absent engine


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"Env": [], "Cmd": ["sh"]}, "baseConfigOverrideJson.Cmd"),
        ({"HostConfig": {"Privileged": True}}, "baseConfigOverrideJson.HostConfig.Privileged"),
        (
            {"HostConfig": {"Binds": ["/:/host"], "PortBindings": {}}},
            "baseConfigOverrideJson.HostConfig.Binds",
        ),
        (
            {"HostConfig": {"PortBindings": {"80": [{"HostPort": "1", "Proto": "x"}]}}},
            "baseConfigOverrideJson.HostConfig.PortBindings.80.0.Proto",
        ),
    ],
)
def test_unknown_override_keys_are_400_naming_them(offline_client, override, named):
    response = offline_client.post("/tools", json=body_with(override), headers=HEADERS)
    assert response.status_code == 400, response.text
    assert f"unknown key {named}" in response.json()["error"]


def test_two_unknown_keys_are_both_named(offline_client):
    override = {"Cmd": [], "HostConfig": {"CapAdd": ["ALL"]}}
    error = offline_client.post("/tools", json=body_with(override), headers=HEADERS).json()["error"]
    assert "baseConfigOverrideJson.Cmd" in error
    assert "baseConfigOverrideJson.HostConfig.CapAdd" in error


@pytest.mark.parametrize("instance_id", ["ati\n1", "ati\x00", "\x1b[31mred", "ati\x85"])
def test_account_tool_instance_id_refuses_control_characters(offline_client, instance_id):
    response = offline_client.post(
        "/tools", json=body_with(accountToolInstanceId=instance_id), headers=HEADERS
    )
    assert response.status_code == 400
    assert "accountToolInstanceId is blank or contains control characters" in response.text


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_interactive_docs_are_off(offline_client, path):
    assert offline_client.get(path, headers=HEADERS).status_code == 404


def test_the_openapi_document_needs_credentials(offline_client):
    assert offline_client.get("/openapi.json").status_code == 401
    assert offline_client.get("/openapi.json", headers=auth("wrong")).status_code == 403
    document = offline_client.get("/openapi.json", headers=HEADERS)
    assert document.status_code == 200
    assert "/tools/{name}/start" in document.json()["paths"]


@pytest.mark.parametrize(
    "image",
    [
        "127.0.0.1:5000/x",
        "localhost:5000/x:1",
        "localhost/x",
        "169.254.169.254/latest/meta-data",  # the cloud's metadata service
        "10.0.0.2:5000/tool",
        "192.168.1.9/tool@sha256:" + "a" * 64,
        "0.0.0.0:80/x",
    ],
)
def test_a_registry_on_the_droplets_own_or_private_network_is_refused(offline_client, image):
    """The engine would send its requests there for anyone who may deploy a tool."""
    response = offline_client.post("/tools", json=body_with(dockerImageUrl=image), headers=HEADERS)
    assert response.status_code == 400, response.text
    assert "registry" in response.json()["error"]


@pytest.mark.parametrize(
    "image",
    ["x:1", "library/busybox", "ghcr.io/org/tool:1.2", "registry.example:5000/t", "8.8.8.8/x"],
)
def test_public_registries_and_hub_names_pass(offline_client, image):
    response = offline_client.post("/tools", json=body_with(dockerImageUrl=image), headers=HEADERS)
    assert response.status_code == 503  # through validation, stopped only by the absent engine


def test_a_private_registry_named_in_the_settings_is_pulled_from():
    from dtma.registries import registry_problem

    allowed = {"10.0.0.2:5000", "192.168.1.9"}
    assert registry_problem("10.0.0.2:5000/tool", allowed) is None
    assert registry_problem("192.168.1.9/tool", allowed) is None
    assert registry_problem("10.0.0.2:5001/tool", allowed) is not None
    assert "DTMA_PRIVATE_REGISTRIES" in registry_problem("127.0.0.1:5000/x")


def test_a_request_binding_more_host_ports_than_allowed_is_refused(offline_client):
    """25 bindings once started 25 docker-proxy processes; ~20,000 fit in the body."""
    bindings = {f"{8000 + n}/tcp": [{"HostPort": str(20000 + n)}] for n in range(10_000)}
    override = {"HostConfig": {"PortBindings": bindings}}
    response = offline_client.post("/tools", json=body_with(override), headers=HEADERS)
    assert response.status_code == 400, response.text[:300]
    assert "10000 port bindings asked, at most 16" in response.json()["error"]


def test_tool_limits_come_from_the_env_file_and_bad_values_are_named():
    from dtma.config import Settings

    settings = Settings.from_env({"DTMA_TOOL_MEMORY_MB": "256", "DTMA_MAX_TOOLS": "zero"})
    assert settings.tool_limits.memory_mb == 256 and settings.tool_limits.max_tools == 50
    assert "DTMA_MAX_TOOLS" in settings.invalid
    config = settings.tool_limits.host_config()
    assert config["Memory"] == config["MemorySwap"] == 256 * 1024 * 1024
    assert config["PidsLimit"] == 512 and config["SecurityOpt"] == ["no-new-privileges"]
    assert config["LogConfig"]["Config"] == {"max-size": "10m", "max-file": "3"}
