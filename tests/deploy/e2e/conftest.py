"""Fixtures of the deploy e2e tests: droplets provisioned like Agentopia's."""

from tests.support.agentopia import (  # noqa: F401 (fixtures)
    agentopia_crashloop_droplet,
    agentopia_droplet,
)
