"""Settings read once from the environment. Missing values never raise: they are reported."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from dtma import __version__
from dtma.tool_limits import ToolLimits

REQUIRED = ("DTMA_BEARER_TOKEN", "BACKEND_TO_DTMA_API_KEY", "AGENTOPIA_API_BASE_URL")
DEFAULT_PORT = 30000
DEFAULT_HEARTBEAT_INTERVAL = 60.0
DEFAULT_DRAIN_GRACE = 0.5
DEFAULT_PULL_DEADLINE = 120.0


@dataclass(frozen=True)
class Settings:
    """Everything the agent reads from its environment. Secrets are excluded from repr."""

    bearer_token: str = field(default="", repr=False)
    backend_api_key: str = field(default="", repr=False)
    api_base_url: str = ""
    port: int = DEFAULT_PORT
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    version: str = __version__
    # Handover mode (DTMA_CHECK_PORT set): 127.0.0.1:check_port, the public port once promoted.
    check_port: int | None = None
    # SIGTERM: listeners close at once, accepted connections are served this long, then uvicorn
    # stops gracefully.
    drain_grace: float = DEFAULT_DRAIN_GRACE
    # Registries on loopback, link-local or private addresses tools may still be pulled from
    # (DTMA_PRIVATE_REGISTRIES=10.0.0.5:5000,…: a registry on the droplets' own network).
    private_registries: frozenset[str] = frozenset()
    tool_limits: ToolLimits = field(default_factory=ToolLimits)
    pull_deadline: float = DEFAULT_PULL_DEADLINE  # a tool's image pull answers 504 past it
    invalid: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        invalid: list[str] = []
        port = _number(env, "PORT", DEFAULT_PORT, int, invalid)
        if not 0 < port < 65536:
            invalid.append("PORT")
            port = DEFAULT_PORT
        interval = _number(
            env, "HEARTBEAT_INTERVAL_SECONDS", DEFAULT_HEARTBEAT_INTERVAL, float, invalid
        )
        if not interval > 0:
            invalid.append("HEARTBEAT_INTERVAL_SECONDS")
            interval = DEFAULT_HEARTBEAT_INTERVAL
        check_port = _number(env, "DTMA_CHECK_PORT", None, int, invalid)
        if check_port is not None and not 0 < check_port < 65536:
            invalid.append("DTMA_CHECK_PORT")
            check_port = None
        limits = ToolLimits.from_env(env, invalid)
        pull_deadline = _number(
            env, "DTMA_PULL_DEADLINE_SECONDS", DEFAULT_PULL_DEADLINE, float, invalid
        )
        if not 0 < pull_deadline < 3600:
            invalid.append("DTMA_PULL_DEADLINE_SECONDS")
            pull_deadline = DEFAULT_PULL_DEADLINE
        grace = _number(env, "DTMA_DRAIN_GRACE", DEFAULT_DRAIN_GRACE, float, invalid)
        if not 0 <= grace <= 5:
            invalid.append("DTMA_DRAIN_GRACE")
            grace = DEFAULT_DRAIN_GRACE
        return cls(
            bearer_token=env.get("DTMA_BEARER_TOKEN", "").strip(),
            backend_api_key=env.get("BACKEND_TO_DTMA_API_KEY", "").strip(),
            api_base_url=env.get("AGENTOPIA_API_BASE_URL", "").strip().rstrip("/"),
            port=port,
            heartbeat_interval=interval,
            version=env.get("DTMA_VERSION", "").strip() or __version__,
            check_port=check_port,
            drain_grace=grace,
            private_registries=frozenset(
                word.strip()
                for word in env.get("DTMA_PRIVATE_REGISTRIES", "").split(",")
                if word.strip()
            ),
            tool_limits=limits,
            pull_deadline=pull_deadline,
            invalid=tuple(invalid),
        )

    @property
    def missing(self) -> list[str]:
        """Names (never values) of the required variables that are not set."""
        values = {
            "DTMA_BEARER_TOKEN": self.bearer_token,
            "BACKEND_TO_DTMA_API_KEY": self.backend_api_key,
            "AGENTOPIA_API_BASE_URL": self.api_base_url,
        }
        return [name for name in REQUIRED if not values[name]]

    @property
    def accepted_tokens(self) -> list[str]:
        return [token for token in (self.backend_api_key, self.bearer_token) if token]


def _number(env: Mapping[str, str], name: str, default, kind, invalid: list[str]):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        # A typo must not crash-loop the agent: fall back and report the name in /status.
        invalid.append(name)
        return default
