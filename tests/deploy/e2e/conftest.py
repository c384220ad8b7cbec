"""Fixtures of the deploy e2e tests: the env file every deploy sends, droplets provisioned like
Agentopia's."""

import pytest

from tests.support.agentopia import (  # noqa: F401 (fixtures)
    agentopia_crashloop_droplet,
    agentopia_droplet,
)
from tests.support.deploy import ENV_TEXT


@pytest.fixture(scope="module")
def env_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("env") / "dtma.env"
    path.write_text(ENV_TEXT)
    return path
