"""Who may call what: 401 without usable credentials, 403 for a wrong token, never echoed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dtma.auth import check_credentials
from dtma.errors import ApiError
from tests.agent.conftest import BACKEND_KEY, DROPLET_TOKEN, settings_for

WRONG = "wrong-token-3fa9d1"
ABSENT = "dtma-test-absent-0000"
VALID_CREATE = {
    "dockerImageUrl": "dtma-test-tool:busybox",
    "instanceNameOnToolbox": "dtma",  # 409 once through auth (reserved): nothing is created
    "accountToolInstanceId": "ati-auth",
}
# Each route with the answer it gives to valid credentials on the real engine.
ROUTES = [
    ("GET", "/status", None, 200),
    ("GET", "/tools", None, 200),
    ("POST", "/tools", VALID_CREATE, 409),
    ("POST", f"/tools/{ABSENT}/start", None, 404),
    ("POST", f"/tools/{ABSENT}/stop", None, 404),
    ("DELETE", f"/tools/{ABSENT}", None, 404),
]
PRESENTED = [
    ("no header", None, 401),
    ("basic scheme", f"Basic {BACKEND_KEY}", 401),
    ("empty bearer", "Bearer ", 401),
    ("wrong token", f"Bearer {WRONG}", 403),
]


def _call(client: TestClient, method: str, path: str, body, header: str | None):
    headers = {"Authorization": header} if header is not None else {}
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.e2e
@pytest.mark.parametrize(("method", "path", "body", "ok_status"), ROUTES)
@pytest.mark.parametrize("token", [BACKEND_KEY, DROPLET_TOKEN], ids=["backend-key", "droplet"])
def test_valid_credentials_reach_the_route(client, method, path, body, ok_status, token):
    response = _call(client, method, path, body, f"Bearer {token}")
    assert response.status_code == ok_status, response.text
    assert token not in response.text


# /status without a header is not refused: it is the public summary (tested below).
REFUSALS = [
    pytest.param(method, path, body, header, expected, id=f"{method} {path} {case}")
    for method, path, body, _ in ROUTES
    for case, header, expected in PRESENTED
    if not (path == "/status" and header is None)
]


@pytest.mark.parametrize(("method", "path", "body", "header", "expected"), REFUSALS)
def test_bad_credentials_are_refused(offline_client, method, path, body, header, expected):
    response = _call(offline_client, method, path, body, header)
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    for secret in (BACKEND_KEY, DROPLET_TOKEN, WRONG):
        assert secret not in response.text


def test_status_without_header_is_public(offline_client):
    response = offline_client.get("/status")
    assert response.status_code == 200
    assert response.json()["tool_instances"] == []  # the engine is unreachable here
    assert "environment" not in response.json()
    assert "system_metrics" not in response.json()


def test_lowercase_scheme_and_padding_are_accepted(offline_client):
    response = offline_client.get("/status", headers={"Authorization": f"bearer  {BACKEND_KEY} "})
    assert response.status_code == 200
    assert "environment" in response.json()


@pytest.mark.parametrize(
    ("unset", "token", "expected"),
    [
        # The droplet token still works when the backend key is unset...
        ("BACKEND_TO_DTMA_API_KEY", DROPLET_TOKEN, None),
        # ...but any other token cannot be judged: 503 naming the variable, not a false 403.
        ("BACKEND_TO_DTMA_API_KEY", WRONG, 503),
        ("DTMA_BEARER_TOKEN", BACKEND_KEY, None),
        ("DTMA_BEARER_TOKEN", WRONG, 503),
    ],
)
def test_unset_key_answers_503_naming_it(unset, token, expected):
    settings = settings_for(**{unset: ""})
    if expected is None:
        check_credentials(f"Bearer {token}", settings)
        return
    with pytest.raises(ApiError) as caught:
        check_credentials(f"Bearer {token}", settings)
    assert caught.value.status == expected
    assert unset in caught.value.message
    assert token not in caught.value.message
