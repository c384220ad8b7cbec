"""The agent's env file: parsed locally, checked, and re-rendered in the form Docker reads.

`docker run --env-file` takes every value literally (quotes included, no comments), so the
file that reaches the host is the normalised rendering of what was parsed here, not a copy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

# The names the agent itself reports missing: one list for the agent and the deploy.
from dtma.config import REQUIRED

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


class EnvFileError(ValueError):
    """A problem with the env file; the message names the line, never a value."""


@dataclass(frozen=True)
class EnvFile:
    path: str
    values: dict[str, str] = field(repr=False)

    def render(self) -> bytes:
        """Docker's env-file format: one KEY=value per line, values literal."""
        return "".join(f"{key}={value}\n" for key, value in self.values.items()).encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.render()).hexdigest()

    @property
    def names(self) -> list[str]:
        return list(self.values)


def _value(raw: str, lineno: int) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        if end < 0:
            raise EnvFileError(f"line {lineno}: unterminated {quote} quote")
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise EnvFileError(f"line {lineno}: text after the closing quote")
        return raw[1:end]
    # Unquoted: a ` #` starts a comment, as in shells and docker compose.
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def parse(text: str, path: str = "<env>") -> EnvFile:
    """Parse KEY=VALUE lines (CRLF, quotes, comments, `export`); reject anything else."""
    values: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(stripped)
        if not match:
            raise EnvFileError(f"line {lineno}: expected KEY=VALUE, found something else")
        values[match.group(1)] = _value(match.group(2), lineno)
    return EnvFile(path=path, values=values)


def check(env: EnvFile, port: int) -> None:
    """The agent needs its three settings, and must listen where the host publishes it."""
    missing = [name for name in REQUIRED if not env.values.get(name)]
    if missing:
        raise EnvFileError(f"missing or empty: {', '.join(missing)}")
    if env.values.get("PORT", str(port)) != str(port):
        raise EnvFileError(f"PORT must be {port} (the backend always calls {port})")


def load(path: str | Path, port: int = 30000) -> EnvFile:
    """Read, parse and check the env file, or raise EnvFileError with one clear line."""
    file = Path(path)
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise EnvFileError("does not exist (copy .env.example and fill it in)") from None
    except UnicodeDecodeError:
        raise EnvFileError("is not UTF-8 text") from None
    except OSError as exc:  # a directory, no permission, an I/O error: say so, no traceback
        raise EnvFileError(f"cannot be read: {exc.strerror or exc}") from None
    env = parse(text, str(file))
    check(env, port)
    return env
