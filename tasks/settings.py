"""One typed settings object for every task.

Merge order, later wins: defaults in code <- `dtma:` in Fabric's config (fabric.yaml)
<- `DTMA_DEPLOY_<FIELD>` environment variables <- CLI flags. This is the only module that
reads the process environment.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

ENV_PREFIX = "DTMA_DEPLOY_"


@dataclass(frozen=True)
class DeploySettings:
    env_file: str = ".env"
    context: str = "."
    dockerfile: str = "Dockerfile"
    base_image: str | None = None
    container: str = "dtma"
    port: int = 30000
    candidate_port: int = 30001
    verify_url: str | None = None
    verify_timeout: float = 60.0
    settle_seconds: float = 3.0
    health_timeout: float = 90.0
    stage_dir: str = "/var/tmp/dtma-deploy"
    remote_env_file: str = "/etc/dtma/dtma.env"
    lock_dir: str = "/var/lib/dtma-deploy/lock"
    lock_ttl: float = 900.0
    audit_log: str = "/var/log/dtma-deploy.log"
    keep_releases: int = 3
    full: bool = False
    force_unlock: bool = False
    restart_anyway: bool = False
    reports_dir: str = "reports"
    # Read from the env file, never from config; kept out of repr so it cannot be printed.
    backend_key: str = field(default="", repr=False)

    @property
    def previous(self) -> str:
        return f"{self.container}-previous"

    @property
    def candidate(self) -> str:
        return f"{self.container}-candidate"

    def agent_url(self, host_key: str | tuple[str, ...], hostname: str) -> str:
        """Where the agent answers from the deploying machine.

        `verify_url` is one URL, or per host `HOST=URL,HOST=URL` with HOST as given to -H
        (several sandboxes publish port 30000 at different loopback ports).
        """
        if not self.verify_url:
            return f"http://{hostname}:{self.port}"
        if "=" not in self.verify_url:
            return self.verify_url.rstrip("/")
        pairs = dict(item.split("=", 1) for item in self.verify_url.split(",") if "=" in item)
        keys = (host_key,) if isinstance(host_key, str) else host_key
        url = next((pairs[key] for key in keys if key in pairs), None)
        if url is None:
            raise SettingsError(f"--verify-url names no URL for host {keys[0]!r}")
        return url.rstrip("/")

    def with_backend_key(self, key: str) -> DeploySettings:
        return replace(self, backend_key=key)


class SettingsError(ValueError):
    pass


def field_names() -> set[str]:
    """Every setting a flag, fabric.yaml or the environment may give."""
    return {f.name for f in fields(DeploySettings)} - {"backend_key"}


def _field_type(name: str) -> type:
    hint = typing.get_type_hints(DeploySettings)[name]
    if isinstance(hint, types.UnionType):  # `str | None`
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def coerce(name: str, value: Any) -> Any:
    """Turn a config or environment value into the field's type; say which field is wrong."""
    kind = _field_type(name)
    if value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        return value
    text = str(value).strip()
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise SettingsError(f"setting {name!r}: {value!r} is not a valid {kind.__name__}") from None


def merge(
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cli: Mapping[str, Any] | None = None,
) -> DeploySettings:
    """Pure merge of the three layers over the defaults; `None` CLI values mean "not given"."""
    names = field_names()
    values: dict[str, Any] = {}
    for key, value in (config or {}).items():
        key = key.replace("-", "_")
        if key not in names:
            raise SettingsError(f"unknown setting {key!r} under `dtma:` in fabric.yaml")
        values[key] = coerce(key, value)
    for name in names:
        raw = (environ or {}).get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = coerce(name, raw)
    for key, value in (cli or {}).items():
        if value is not None:
            values[key] = coerce(key, value)
    return DeploySettings(**values)


def load(c: Any, **cli: Any) -> DeploySettings:
    """Settings for one task run: Fabric's config from `c`, this process's environment, flags."""
    config = c.config.get("dtma", None) if hasattr(c, "config") else None
    return merge(dict(config or {}), os.environ, cli)
