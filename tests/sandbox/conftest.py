"""Fixtures of the sandbox tests: the agent image built from the project, sandbox droplets.

Everything made here has a unique `dtma-sbx-*` / `dtma:test-*` name and is removed by id at the
end of the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import docker
import pytest

from tasks import images, sandbox
from tests.support.agentopia import (  # noqa: F401 (fixtures: Agentopia-provisioned droplets)
    agentopia_crashloop_droplet,
    agentopia_droplet,
)
from tests.support.contexts import copy_context, unique
from tests.support.ports import free_port


@pytest.fixture(scope="session")
def agent_base_image(docker_client: docker.DockerClient) -> str:
    """The base the agent image builds on here (python:3.12-slim if present, else the local one)."""
    return images.resolve_base_image(None, docker_client, quiet=True)


@pytest.fixture(scope="session")
def agent_image(
    docker_client: docker.DockerClient, agent_base_image: str, tmp_path_factory
) -> Iterator[str]:
    """Tag of the agent image built from the project's Dockerfile and dtma/ (removed at the end)."""
    context = copy_context(tmp_path_factory.mktemp("agent-context"))
    tag = f"dtma:test-{uuid.uuid4().hex[:8]}"
    images.build_agent_image(
        context, tags=[tag], version="test", base_image=agent_base_image, quiet=True
    )
    yield tag
    # By our unique tag, not by id; noprune keeps the cached layers for the next warm build.
    docker_client.images.remove(tag, noprune=True)


@pytest.fixture(scope="session")
def sandbox_factory() -> Iterator[Callable[..., sandbox.Sandbox]]:
    """`sandbox_factory()` starts a sandbox droplet with a unique name and free ports; every
    sandbox made is removed (container, volume, key folder) at the end of the session."""
    made: list[str] = []

    def make(name: str | None = None, ssh_port: int = 0, http_port: int = 0) -> sandbox.Sandbox:
        name = name or unique()
        made.append(name)
        return sandbox.up(name, ssh_port or free_port(), http_port or free_port(), quiet=True)

    yield make
    for name in made:
        sandbox.down(name)
