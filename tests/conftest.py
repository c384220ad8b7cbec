"""Fixtures shared by every test folder."""

from __future__ import annotations

import docker
import pytest

from tests.support.images import ensure_tool_image


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
