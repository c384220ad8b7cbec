"""Running ship's remote steps, and delivering one archive: stage, upload, checksum, load.

Every expected failure becomes a ShipError whose str() is one line: host, step, cause, hint.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import tarfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import paramiko
from fabric import Connection
from invoke import Result

from tasks.layers import write_gzipped_archive
from tasks.progress import TransferProgress, human_bytes
from tasks.ship_commands import (
    STAGED_PREFIX,
    checksum_cmd,
    last_line,
    load_cmd,
    parse_df_available,
    prepare_stage_cmd,
)

SSH_ERRORS = (OSError, EOFError, paramiko.SSHException)
ProgressCallback = Callable[[int, int], None]


class ShipError(Exception):
    """An expected failure of one ship step; str() is one line: host, step, cause, what to do."""

    def __init__(self, step: str, cause: str, hint: str, host: str = "") -> None:
        super().__init__(step, cause, hint)
        self.step, self.cause, self.hint, self.host = step, cause, hint, host

    def __str__(self) -> str:
        where = f"{self.host}: " if self.host else ""
        return f"{where}ship failed at {self.step}: {self.cause} -- {self.hint}"


def host_label(conn: Connection) -> str:
    return f"{conn.user}@{conn.host}:{conn.port}"


def run(conn: Connection, step: str, command: str | Sequence[str]) -> Result:
    """Run one remote command; SSH trouble becomes a ShipError, exit codes are the caller's."""
    text = command if isinstance(command, str) else shlex.join(command)
    try:
        return conn.run(text, hide=True, warn=True, in_stream=False)
    except SSH_ERRORS as exc:
        raise ShipError(
            step,
            f"SSH failed: {exc}",
            "check that the host is up and takes our key",
            host_label(conn),
        ) from exc


def check(conn: Connection, step: str, result: Result, hint: str) -> Result:
    if result.failed:
        raise ShipError(step, last_line(result.stderr or result.stdout), hint, host_label(conn))
    return result


class LoadRefused(Exception):
    """docker load said no; the caller decides whether a full archive is worth a retry."""


class Sender:
    """Archive attempts: build, stage, upload, checksum, load; the staged file never stays."""

    def __init__(
        self,
        conn: Connection,
        archive: tarfile.TarFile,
        work: Path,
        stage_dir: str,
        progress: bool,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.conn, self.archive, self.work, self.stage_dir = conn, archive, work, stage_dir
        self.progress, self.on_progress = progress, on_progress
        self.host = host_label(conn)
        self.bytes_sent = 0  # over every attempt
        self.sha256 = ""  # of the last archive built

    def __call__(self, drop: set[str]) -> None:
        local = self.work / "image.tar.gz"
        try:
            with open(local, "wb") as out:
                hashed = write_gzipped_archive(self.archive, out, drop)
            self.sha256 = hashed.sha256
            self.stage(hashed.bytes)
            name = f"{STAGED_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
            self.deliver(local, f"{self.stage_dir}/{name}.tar.gz", hashed.bytes)
        finally:
            local.unlink(missing_ok=True)

    def stage(self, size: int) -> None:
        """Clear leftovers of earlier runs, then make sure the archive fits twice."""
        hint = f"check that the SSH user can write {self.stage_dir}"
        disk = run(self.conn, "stage", prepare_stage_cmd(self.stage_dir))
        available = parse_df_available(check(self.conn, "stage", disk, hint).stdout)
        if available < 2 * size:
            raise ShipError(
                "disk",
                f"{self.stage_dir} has {human_bytes(available)} free, shipping needs "
                f"{human_bytes(2 * size)} (twice the {human_bytes(size)} archive)",
                "free space on the host or use a stage dir on a bigger disk",
                self.host,
            )

    def deliver(self, local: Path, remote: str, size: int) -> None:
        part = f"{remote}.part"
        try:
            self.upload(local, part, size)
            self.bytes_sent += size
            answer = run(self.conn, "checksum", checksum_cmd(part))
            if check(self.conn, "checksum", answer, "re-run").stdout.split()[0] != self.sha256:
                raise ShipError(
                    "checksum", "staged archive differs from the sent one", "re-run", self.host
                )
            check(self.conn, "checksum", run(self.conn, "checksum", ["mv", part, remote]), "re-run")
            loaded = run(self.conn, "load", load_cmd(remote))
            if loaded.failed:
                raise LoadRefused(last_line(loaded.stderr or loaded.stdout))
        finally:
            # A dropped link is not re-dialled just to tidy up: the next ship removes leftovers.
            if self.conn.is_connected:
                with contextlib.suppress(ShipError):
                    run(self.conn, "cleanup", ["rm", "-f", part, remote])

    def upload(self, local: Path, remote: str, size: int) -> None:
        meter = TransferProgress("ship", size) if self.progress else None
        sent = 0

        def callback(done: int, total: int) -> None:
            nonlocal sent
            sent = done
            if meter:
                meter(done, total)
            if self.on_progress:
                self.on_progress(done, total)

        try:
            with open(local, "rb") as data:
                self.conn.sftp().putfo(data, remote, file_size=size, callback=callback)
        except SSH_ERRORS as exc:
            self.bytes_sent += sent
            raise ShipError(
                "upload",
                f"connection lost after {human_bytes(sent)} of {human_bytes(size)} ({exc})",
                "re-run the deploy; the next ship removes the partial file",
                self.host,
            ) from exc
        finally:
            if meter:
                meter.finish()
