"""Property-based fuzzing of the OpenAPI contract with schemathesis, valid credentials.

Two runs, because fuzzing POST /tools against the real engine would make Docker pull random
image names from public registries (network traffic this project forbids) and create
containers:
- every operation, with Docker pointed at a socket that does not exist: no bug (500), every
  answer documented and schema-valid, the only 5xx being the documented 503 "Docker engine
  unreachable";
- every operation except POST /tools against the real engine: zero 5xx. Generated names are
  random and never those of containers that exist, so nothing is touched or left behind.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from dtma.app import create_app
from tests.agent.conftest import BACKEND_KEY, auth, settings_for, unreachable_docker

HEADERS = auth(BACKEND_KEY)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout; failures print their example
    suppress_health_check=list(HealthCheck),
)

# /openapi.json needs credentials like the tool routes.
offline_schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(settings_for(), unreachable_docker, heartbeat=False),
    headers=HEADERS,
)
engine_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(settings_for(), heartbeat=False), headers=HEADERS
).exclude(method="POST", path="/tools")


@offline_schema.parametrize()
@FUZZ
def test_no_bugs_and_only_documented_answers_without_docker(case):
    response = case.call(headers=HEADERS)
    case.validate_response(response, excluded_checks=[schemathesis.checks.not_a_server_error])
    if response.status_code >= 500:
        assert response.status_code == 503, response.text
        assert response.json()["error"].startswith("Docker engine unreachable"), response.text


@pytest.mark.e2e
@engine_schema.parametrize()
@FUZZ
def test_zero_server_errors_against_the_real_engine(case, docker_client):
    response = case.call(headers=HEADERS)
    case.validate_response(response)
    assert response.status_code < 500, response.text
