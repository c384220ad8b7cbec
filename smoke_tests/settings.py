"""The suite's options, built once into one typed settings object.

Each option comes from the command line, else from its DTMA_SMOKE_* variable, else its default.
Problems with them are usage errors: one line, no traceback.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smoke_tests.tokens import near_misses

# The agent accepts either variable; the backend sends the first, so prefer it.
KEY_VARIABLES = ("BACKEND_TO_DTMA_API_KEY", "DTMA_BEARER_TOKEN")


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    default: Any = None
    is_flag: bool = False

    @property
    def dest(self) -> str:
        return "smoke_" + self.flag.removeprefix("--").replace("-", "_")

    @property
    def env(self) -> str:
        return "DTMA_SMOKE_" + self.flag.removeprefix("--").replace("-", "_").upper()


OPTIONS = (
    Option("--host", "agent host, `host` or `host:port` (required)"),
    Option("--port", "agent port when --host has none", 30000),
    Option(
        "--scheme",
        "http or https; over http the key you pass crosses the network in the clear: use https, "
        "or an SSH tunnel (ssh -L 30000:127.0.0.1:30000 root@HOST, then --host 127.0.0.1)",
        "http",
    ),
    Option("--api-key", "the backend key (prefer --env-file: argv is visible in ps)"),
    Option("--env-file", "a .env holding BACKEND_TO_DTMA_API_KEY or DTMA_BEARER_TOKEN"),
    Option("--timeout", "seconds per request", 5.0),
    Option("--latency-budget", "seconds /health and /status may take", 2.0),
    Option("--refresh-url", "the backend's refresh-status URL for this toolbox"),
    Option("--user-jwt", "a user JWT the backend accepts on --refresh-url"),
    Option("--ssh", "root@host[:port]: check the container's restart policy over SSH"),
    Option("--ssh-key", "private key for --ssh"),
    Option("--known-hosts", "known_hosts file for --ssh, before ~/.ssh/known_hosts"),
    Option(
        "--accept-new-host-key",
        "trust --ssh's host key on first use, recording it (a changed key is refused always)",
        False,
        True,
    ),
    Option("--container", "the agent's container name on the host", "dtma"),
    Option("--destructive", "create, stop, start and delete a tool container", False, True),
    Option("--tool-image", "an image the host already has, for --destructive"),
)


class SettingsError(ValueError):
    """A bad option: the message is the one line the operator sees."""


@dataclass(frozen=True)
class SmokeSettings:
    host: str
    port: int
    scheme: str = "http"
    api_key: str = field(default="", repr=False)
    key_source: str = ""
    # The env file's other token (the agent accepts either): checked for near-misses too.
    other_tokens: tuple[str, ...] = field(default=(), repr=False)
    timeout: float = 5.0
    latency_budget: float = 2.0
    refresh_url: str | None = None
    user_jwt: str | None = field(default=None, repr=False)
    ssh: str | None = None
    ssh_key: str | None = None
    known_hosts: str | None = None
    accept_new_host_key: bool = False
    container: str = "dtma"
    destructive: bool = False
    tool_image: str | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token the agent accepts that the suite knows."""
        return tuple(t for t in (self.api_key, *self.other_tokens) if t)

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no output may show: the tokens, the near-misses made of them, the user JWT."""
        misses = [miss for token in self.tokens for miss in near_misses(token).values()]
        return tuple(s for s in (*self.tokens, *misses, self.user_jwt) if s)


def split_host(value: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` -> (host, port)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    else:
        host, port_text = value, ""
    if not host:
        raise SettingsError(f"--host {value!r} names no host")
    return host, parse_port(port_text, "--host") if port_text else default_port


def parse_port(text: Any, flag: str) -> int:
    try:
        port = int(text)
    except (TypeError, ValueError):
        raise SettingsError(f"{flag}: {text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SettingsError(f"{flag}: {port} is not a port number (1-65535)")
    return port


def read_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines as docker --env-file and python-dotenv read them (quotes stripped)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SettingsError(f"--env-file {path}: cannot read it ({exc.strerror})") from None
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def other_tokens_from(key: str, env_file: str | None) -> tuple[str, ...]:
    """The env file's tokens other than `key` (the agent accepts both variables)."""
    if not env_file:
        return ()
    values = read_env_file(env_file)
    return tuple(
        v for v in dict.fromkeys(values.get(n, "") for n in KEY_VARIABLES) if v and v != key
    )


def key_from(api_key: str | None, env_file: str | None) -> tuple[str, str]:
    """The key to present and where it came from (a name, never the value)."""
    if api_key:
        return api_key, "--api-key"
    if not env_file:
        raise SettingsError(
            "no key: pass --env-file .env (or --api-key); the checks present the backend's key"
        )
    values = read_env_file(env_file)
    for name in KEY_VARIABLES:
        if values.get(name):
            return values[name], f"{name} from {env_file}"
    raise SettingsError(f"--env-file {env_file}: neither {' nor '.join(KEY_VARIABLES)} is set")


def resolve(raw: dict[str, Any], environ: dict[str, str] | None = None) -> SmokeSettings:
    """Build the settings from option values (None when not given) and the environment."""
    environ = os.environ if environ is None else environ
    values = {}
    for option in OPTIONS:
        value = raw.get(option.dest)
        if value in (None, False) and environ.get(option.env):
            text = environ[option.env]
            value = text.lower() in ("1", "true", "yes") if option.is_flag else text
        values[option.flag] = option.default if value is None else value

    if not values["--host"]:
        raise SettingsError(
            "--host is required: pytest smoke_tests --host <droplet> --env-file .env"
        )
    host, port = split_host(values["--host"], parse_port(values["--port"], "--port"))
    scheme = values["--scheme"]
    if scheme not in ("http", "https"):
        raise SettingsError(f"--scheme {scheme!r}: use http or https")
    if bool(values["--refresh-url"]) != bool(values["--user-jwt"]):
        raise SettingsError("--refresh-url and --user-jwt go together: pass both or neither")
    if values["--destructive"] and not values["--tool-image"]:
        raise SettingsError("--destructive needs --tool-image IMAGE (an image the host has)")
    api_key, key_source = key_from(values["--api-key"], values["--env-file"])
    return SmokeSettings(
        host=host,
        port=port,
        scheme=scheme,
        api_key=api_key,
        key_source=key_source,
        other_tokens=other_tokens_from(api_key, values["--env-file"]),
        timeout=_seconds(values["--timeout"], "--timeout"),
        latency_budget=_seconds(values["--latency-budget"], "--latency-budget"),
        refresh_url=values["--refresh-url"] or None,
        user_jwt=values["--user-jwt"] or None,
        ssh=values["--ssh"] or None,
        ssh_key=values["--ssh-key"] or None,
        known_hosts=values["--known-hosts"] or None,
        accept_new_host_key=bool(values["--accept-new-host-key"]),
        container=values["--container"],
        destructive=bool(values["--destructive"]),
        tool_image=values["--tool-image"] or None,
    )


def _seconds(value: Any, flag: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{flag}: {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise SettingsError(f"{flag}: must be a finite number of seconds, more than 0")
    return seconds
