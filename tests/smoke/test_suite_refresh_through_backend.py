"""Check 4's real path: the suite presses "refresh status" on the backend stand-in."""

from __future__ import annotations

from collections.abc import Callable

from tests.smoke.broken_agents import BrokenAgent
from tests.smoke.conftest import KEY, SmokeRun, free_port
from tests.support.backend import BackendStandIn

RunSmoke = Callable[..., SmokeRun]


def refresh_run(run_smoke: RunSmoke, backend: BackendStandIn, agent_port: int) -> SmokeRun:
    backend.add_toolbox("tb-1", agent_host="127.0.0.1", agent_port=agent_port)
    return run_smoke(
        "--host",
        f"127.0.0.1:{agent_port}",
        "--api-key",
        KEY,
        "--refresh-url",
        backend.refresh_url("tb-1"),
        "--user-jwt",
        backend.user_jwt,
        "-k",
        "refresh",
    )


def test_refresh_through_the_backend_marks_the_good_agent_active(run_smoke: RunSmoke) -> None:
    with (
        BackendStandIn(droplet_token="tok-droplet", backend_key=KEY) as backend,
        BrokenAgent("good", key=KEY) as agent,
    ):
        run = refresh_run(run_smoke, backend, agent.port)
        row = backend.toolbox_row("tb-1")
    assert run.returncode == 0, run.output
    assert run.line_of("refresh").split()[0] == "kept", run.output
    assert "real backend path was not exercised" not in run.output
    assert row["status"] == "active" and row["dtma_last_known_version"]
    assert backend.user_jwt not in run.output


def test_refresh_of_a_stopped_agent_fails_saying_the_frontend_shows_500(
    run_smoke: RunSmoke,
) -> None:
    with BackendStandIn(droplet_token="tok-droplet", backend_key=KEY) as backend:
        run = refresh_run(run_smoke, backend, free_port())  # nothing listens there
    assert run.returncode == 1, run.output
    assert run.line_of("refresh").split()[0] == "broken", run.output
    assert 'the frontend would show HTTP 500: the backend says "Failed to refresh' in run.output
    assert "Why: asked the same way from here:" in run.output
    assert "connection refused" in run.output
    assert backend.user_jwt not in run.output and KEY not in run.output


def test_refresh_through_a_backend_holding_another_key_explains_the_mismatch(
    run_smoke: RunSmoke,
) -> None:
    with (
        BackendStandIn(droplet_token="tok-droplet", backend_key="not-the-key") as backend,
        BrokenAgent("good", key=KEY) as agent,
    ):
        run = refresh_run(run_smoke, backend, agent.port)
    assert run.returncode == 1, run.output
    assert "DTMA status check failed with HTTP 403" in run.output
    assert "the backend's BACKEND_TO_DTMA_API_KEY is the key given here" in run.output
