"""Fixtures shared by every test folder, and the run's end-of-session leak check."""

from __future__ import annotations

import os

import docker
import pytest

from tasks.sandbox.droplet import KNOWN_HOSTS
from tests.support import leaks
from tests.support.images import ensure_tool_image

_ENGINE_BEFORE = pytest.StashKey[leaks.EngineSnapshot | None]()
_RUN_ID = pytest.StashKey[str]()


def _engine() -> docker.DockerClient | None:
    try:
        client = docker.from_env()
        client.ping()
        return client
    except docker.errors.DockerException:
        return None  # unit-only runs need no engine; the e2e tests fail on their own


def pytest_sessionstart(session: pytest.Session) -> None:
    session.stash[_RUN_ID] = leaks.mark_this_run()
    # Every `fab` the tests start talks to sandbox droplets, whose keys `sandbox.up` records.
    os.environ.setdefault("DTMA_DEPLOY_KNOWN_HOSTS", str(KNOWN_HOSTS))
    client = _engine()
    session.stash[_ENGINE_BEFORE] = leaks.EngineSnapshot.take(client) if client else None


@pytest.hookimpl(trylast=True)  # after every fixture's finalizer has run
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not leaks.check_enabled() or _RUN_ID not in session.stash:
        return
    before = session.stash.get(_ENGINE_BEFORE, None)
    found = leaks.leaks(session.stash[_RUN_ID], before, _engine() if before else None)
    if not found:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.section("left behind by this run (a test that does not clean up)", red=True)
        for line in found:
            reporter.line(line, red=True)
        reporter.line(f"{len(found)} leak(s): the run fails", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    """The real Docker engine on this machine (`make test` starts one)."""
    client = docker.from_env()
    try:
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine answers ({exc}); run `make engine` first", pytrace=False)
    return client


@pytest.fixture(scope="session")
def tool_image(docker_client: docker.DockerClient) -> str:
    """A tiny local image (static busybox) usable as a managed tool container."""
    return ensure_tool_image(docker_client)
