"""SSH host keys: every connection checks the server's key before anything is sent.

Fabric's default trusts any key (paramiko's AutoAddPolicy, no known_hosts loaded): a server that
answers on the droplet's address would receive the env file with both tokens. Here, as with
OpenSSH: keys come from known_hosts files; an unknown key is refused unless trust on first use
is asked for (`--accept-new-host-key`, OpenSSH's `accept-new`), which records it; a key that
differs from the recorded one is refused always. paramiko checks the key during the handshake,
before authentication, so a refused host has been sent nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

USER_KNOWN_HOSTS = "~/.ssh/known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's form: `SHA256:` and the unpadded base64 of the key blob's digest."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_host_name(host: str, port: int) -> str:
    """How known_hosts names a server: `host`, or `[host]:port` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


class HostKeyRefused(paramiko.SSHException):
    """The server's key is not one we know; the message says what to do."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def unknown_key_error(hostname: str, key: paramiko.PKey, record_to: Path) -> HostKeyRefused:
    return HostKeyRefused(
        f"unknown SSH host key for {hostname} ({key.get_name()} {fingerprint(key)})",
        f"check the fingerprint with your provider, then trust it once with "
        f"--accept-new-host-key (records it in {record_to})",
    )


def changed_key_error(
    error: paramiko.BadHostKeyException, port: int, record_to: Path
) -> HostKeyRefused:
    name = known_host_name(error.hostname, port)
    known = error.expected_key
    said = f"{known.get_name()} {fingerprint(known)}" if known else "a key of another type"
    return HostKeyRefused(
        f"the SSH host key of {name} CHANGED: it shows {error.key.get_name()} "
        f"{fingerprint(error.key)}, known_hosts says {said}",
        "nothing was sent. If the droplet was rebuilt on purpose, remove the old key with "
        f"`ssh-keygen -R '{name}' -f {record_to}` and connect again; otherwise "
        "someone may be answering in its place",
    )


def append_known_host(path: Path, hostname: str, key: paramiko.PKey) -> None:
    """One `host type base64` line, in a file only its owner can read (dir 0700, file 0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as file:
        file.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a key no known_hosts file has: refuse, or trust on first use."""

    def __init__(self, record_to: Path, accept_new: bool):
        self.record_to, self.accept_new = record_to, accept_new

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        if not self.accept_new:
            raise unknown_key_error(hostname, key, self.record_to)
        client.get_host_keys().add(hostname, key.get_name(), key)
        append_known_host(self.record_to, hostname, key)


@dataclass(frozen=True)
class HostKeyCheck:
    """Which known_hosts files to trust, where a new key is recorded, and whether that may
    happen. `files` are read in order; the first is where new keys go."""

    files: tuple[Path, ...]
    accept_new: bool = False

    @classmethod
    def from_settings(cls, known_hosts: str | None, accept_new: bool) -> HostKeyCheck:
        files = [Path(known_hosts).expanduser()] if known_hosts else []
        files.append(Path(USER_KNOWN_HOSTS).expanduser())
        return cls(tuple(dict.fromkeys(files)), accept_new)

    @property
    def record_to(self) -> Path:
        return self.files[0]

    def with_files(self, extra: Iterable[str | Path]) -> HostKeyCheck:
        files = (*self.files, *(Path(f).expanduser() for f in extra))
        return HostKeyCheck(tuple(dict.fromkeys(files)), self.accept_new)

    def apply(self, client: paramiko.SSHClient) -> None:
        """Make `client` check keys this way (call before it connects)."""
        keys = client.get_host_keys()
        for file in self.files:
            if file.is_file():
                keys.load(str(file))
        client.set_missing_host_key_policy(KnownHostsPolicy(self.record_to, self.accept_new))

    def explain(self, error: BaseException, port: int = 22) -> HostKeyRefused | None:
        """The one-line form of a host-key failure raised connecting to `port`, else None."""
        if isinstance(error, HostKeyRefused):
            return error
        if isinstance(error, paramiko.BadHostKeyException):
            return changed_key_error(error, port, self.record_to)
        return None
