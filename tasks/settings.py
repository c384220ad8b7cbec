"""One typed settings object for every task.

Merge order, later wins: defaults in code <- `dtma:` in Fabric's config (fabric.yaml)
<- `DTMA_DEPLOY_<FIELD>` environment variables <- CLI flags. This is the only module that
reads the process environment.
"""

from __future__ import annotations

import math
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import PurePosixPath
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
    settle_seconds: float = 0.0
    health_timeout: float = 90.0
    stage_dir: str = "/var/tmp/dtma-deploy"
    remote_env_file: str = "/etc/dtma/dtma.env"
    lock_dir: str = "/var/lib/dtma-deploy/lock"
    lock_ttl: float = 900.0
    audit_log: str = "/var/log/dtma-deploy.log"
    keep_releases: int = 3
    full: bool = False
    registry: str | None = None  # REGISTRY/REPO: pushed once, hosts pull it from there
    force_unlock: bool = False
    restart_anyway: bool = False
    adopt: bool = False
    env_from_host: bool = False
    replace_token: bool = False
    reports_dir: str = "reports"
    known_hosts: str | None = None
    accept_new_host_key: bool = False
    # A fleet (several hosts): the first `canary` go alone, then `parallel` at a time.
    canary: int = 1
    parallel: int = 1
    on_failure: str = "stop"  # or "rollback-all": every host switched in this run goes back
    connect_timeout: float = 10.0  # per host, for SSH connect, banner and auth: well under 15 s
    host_deadline: float = 1800.0  # per host, for its whole deploy
    smoke: bool = False  # the smoke suite's default promises gate each host after its release
    hosts_file: str | None = None
    do_tag: str | None = None
    do_api: str = "https://api.digitalocean.com"  # tests point it at a stand-in
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


def is_switch(name: str) -> bool:
    """A yes/no setting: its flag is given or not, it takes no value."""
    return name in field_names() and _field_type(name) is bool


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
    settings = DeploySettings(**values)
    if problems := problems_with(settings):
        raise SettingsError("\n".join(problems))
    return settings


# must be finite and above 0
SECONDS = ("verify_timeout", "health_timeout", "lock_ttl", "connect_timeout", "host_deadline")
ON_FAILURE = ("stop", "rollback-all")
PORTS = ("port", "candidate_port")
# Directories the deploy creates and may clear: only inside a place named for this tool, so a
# mistyped setting can never point the lock breaker or the stage cleaner at /etc or /tmp.
OWN_DIRECTORIES = ("stage_dir", "lock_dir")


def problems_with(s: DeploySettings) -> list[str]:
    """One line per setting whose value cannot work, naming the setting and the fix."""
    problems = []
    for name in SECONDS:
        value = getattr(s, name)
        if not math.isfinite(value) or value <= 0:
            problems.append(f"setting {name!r}: {value} is not a finite number of seconds above 0")
    if not math.isfinite(s.settle_seconds) or s.settle_seconds < 0:
        problems.append(f"setting 'settle_seconds': {s.settle_seconds} is not 0 or more seconds")
    for name in PORTS:
        if not 0 < getattr(s, name) < 65536:
            problems.append(f"setting {name!r}: {getattr(s, name)} is not a port (1-65535)")
    if s.port == s.candidate_port:
        problems.append(
            f"settings 'port' and 'candidate_port' are both {s.port}: the candidate needs its own"
        )
    if s.registry is not None and not re.fullmatch(
        r"[A-Za-z0-9._-]+(:\d+)?(/[\w.-]+)+(:[\w.-]+)?", s.registry
    ):
        problems.append(
            f"setting 'registry': {s.registry!r} is not REGISTRY/REPO[:TAG] "
            "(e.g. registry.digitalocean.com/team/dtma, no digest)"
        )
    if s.keep_releases < 1:
        problems.append(f"setting 'keep_releases': {s.keep_releases} must be 1 or more")
    if s.smoke and s.env_from_host:
        problems.append(
            "settings 'smoke' and 'env_from_host': the smoke suite presents the keys from a "
            "local env file; give --env-file (with the host's tokens) to use --smoke"
        )
    if s.canary < 0:
        problems.append(f"setting 'canary': {s.canary} must be 0 or more hosts")
    if s.parallel < 1:
        problems.append(f"setting 'parallel': {s.parallel} must be 1 or more hosts at a time")
    if s.on_failure not in ON_FAILURE:
        problems.append(
            f"setting 'on_failure': {s.on_failure!r} is not one of {', '.join(ON_FAILURE)}"
        )
    for name in OWN_DIRECTORIES:
        if not is_ours(PurePosixPath(getattr(s, name))):
            problems.append(
                f"setting {name!r}: {getattr(s, name)!r} must be an absolute path inside a "
                "directory of this tool's (a component naming dtma, e.g. /var/lib/dtma-deploy/lock)"
            )
    # The env file's directory is made root-only (0700): never /etc itself.
    if not is_ours(PurePosixPath(s.remote_env_file).parent):
        problems.append(
            f"setting 'remote_env_file': {s.remote_env_file!r} must be an absolute path in a "
            "directory of this tool's, which is made root-only (e.g. /etc/dtma/dtma.env)"
        )
    # Appended to: only a file named for this tool, never /etc/passwd.
    audit = PurePosixPath(s.audit_log)
    if not is_ours(audit) or "dtma" not in audit.name:
        problems.append(
            f"setting 'audit_log': {s.audit_log!r} must be an absolute path to a file named for "
            "this tool (e.g. /var/log/dtma-deploy.log)"
        )
    return problems


def is_ours(path: PurePosixPath) -> bool:
    """Absolute, no `..`, and some component names this tool (dtma)."""
    parts = path.parts[1:]
    return path.is_absolute() and ".." not in parts and any("dtma" in part for part in parts)


def digitalocean_token() -> str:
    """The DigitalOcean API token, from DIGITALOCEAN_TOKEN only (never from a file or flag)."""
    return os.environ.get("DIGITALOCEAN_TOKEN", "")


def load(c: Any, **cli: Any) -> DeploySettings:
    """Settings for one task run: Fabric's config from `c`, this process's environment, flags."""
    config = c.config.get("dtma", None) if hasattr(c, "config") else None
    return merge(dict(config or {}), os.environ, cli)
