"""Fault 10, schema-driven: schemathesis against the agent running in the sandbox, with and
without credentials. POST /tools is left out here: Docker would try to pull the random image
names it generates from registries outside this machine (tests/agent/test_fuzz.py fuzzes it
in-process with the engine unreachable)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from dtma.app import create_app
from dtma.config import Settings
from tests.faults.support import KEY, record

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PUBLIC = {"/health", "/status"}
FUZZ = settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


# The document the deployed agent serves is built from this same dtma/ (the fault host runs a
# copy of it); it is read in-process because the cases are made at collection time.
schema = schemathesis.openapi.from_dict(
    create_app(Settings.from_env({}), heartbeat=False).openapi()
).exclude(method="POST", path="/tools")


@schema.parametrize()
@FUZZ
def test_live_agent_never_answers_5xx_with_credentials(case, host):
    response = case.call(
        base_url=host.box.agent_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    )
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)


@schema.parametrize()
@FUZZ
def test_live_agent_refuses_every_protected_route_without_credentials(case, host):
    response = case.call(base_url=host.box.agent_url, timeout=10)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if case.path not in PUBLIC:
        assert response.status_code >= 400, (case.method, case.formatted_path, response.text)


def test_live_agent_still_answers_after_fuzzing(host):
    host.smoke()
    record("schemathesis against the live agent (with and without credentials)")
