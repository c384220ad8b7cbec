"""Delivering one archive to the host: stage, upload over SFTP, checksum, load.

The staged file never stays: it is removed after the load, and a cut transfer's leftover goes
at the next ship (the stage dir is cleared of `ship-*` files before each upload).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tasks.commands import files, scripts
from tasks.errors import DeployError
from tasks.facts.host_images import parse_df_available
from tasks.layers import HashingWriter
from tasks.progress import TransferProgress
from tasks.runner import SSH_ERRORS, Remote
from tasks.units import human_bytes

ProgressCallback = Callable[[int, int], None]
# Writes one archive (gzipped) to a file, leaving out the layer files named; says what it wrote.
ArchiveWriter = Callable[[IO[bytes], set[str]], HashingWriter]


class LoadRefused(Exception):
    """docker load said no; the caller decides whether a full archive is worth a retry."""


class Sender:
    """Archive attempts: build, stage, upload, checksum, load."""

    def __init__(
        self,
        remote: Remote,
        image_ref: str,
        write: ArchiveWriter,
        work: Path,
        stage_dir: str,
        progress: bool,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.remote, self.image_ref, self.write = remote, image_ref, write
        self.work, self.stage_dir = work, stage_dir
        self.progress, self.on_progress = progress, on_progress
        self.bytes_sent = 0  # over every attempt
        self.sha256 = ""  # of the last archive built

    def __call__(self, drop: set[str], write: ArchiveWriter | None = None) -> str:
        """Send the archive `write` (default: the Sender's) makes without the files in `drop`;
        returns what a fingerprint reads of the image on the host after the load."""
        local = self.work / "image.tar.gz"
        try:
            with open(local, "wb") as out:
                hashed = (write or self.write)(out, drop)
            self.sha256 = hashed.sha256
            self.stage(hashed.bytes)
            name = f"{files.STAGED_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
            return self.deliver(local, f"{self.stage_dir}/{name}.tar.gz", hashed.bytes)
        finally:
            local.unlink(missing_ok=True)

    def fail(self, step: str, cause: str, hint: str) -> DeployError:
        return DeployError(self.remote.host, step, cause, hint)

    def stage(self, size: int) -> None:
        """Clear leftovers of earlier runs, then make sure the archive fits twice."""
        hint = f"check that the SSH user can write {self.stage_dir}"
        disk = self.remote.run(files.prepare_stage(self.stage_dir), step="stage", hint=hint)
        available = parse_df_available(disk.stdout)
        if available < 2 * size:
            raise self.fail(
                "disk",
                f"{self.stage_dir} has {human_bytes(available)} free, shipping needs "
                f"{human_bytes(2 * size)} (twice the {human_bytes(size)} archive)",
                "free space on the host or use a stage dir on a bigger disk",
            )

    def deliver(self, local: Path, remote_path: str, size: int) -> str:
        """Upload, then checksum, load, remove and read the image in one exchange
        (scripts.load_staged); returns the image's identity line as the host has it."""
        part = f"{remote_path}.part"
        try:
            self.upload(local, part, size)
        except BaseException:
            # A dropped link is not re-dialled just to tidy up: the next ship removes leftovers.
            if self.remote.connected:
                with contextlib.suppress(DeployError):
                    self.remote.run(files.remove_files(part), step="cleanup")
            raise
        self.bytes_sent += size
        argv = scripts.load_staged(part, remote_path, self.sha256, self.image_ref)
        loaded = self.remote.run(argv, step="load", check=False)
        if loaded.exit_code == scripts.CHECKSUM_DIFFERS:
            raise self.fail("checksum", loaded.last_line(), "re-run")
        # Docker 28's containerd store says "Error unpacking image" and exits 0.
        said = f"{loaded.stdout}\n{loaded.stderr}"
        if not loaded.ok or "Error unpacking" in said:
            failed = [line for line in said.splitlines() if "Error" in line]
            raise LoadRefused(failed[-1] if failed else loaded.last_line())
        identity = [line for line in loaded.stdout.splitlines() if line.startswith("identity=")]
        return identity[-1].removeprefix("identity=") if identity else ""

    def upload(self, local: Path, remote_path: str, size: int) -> None:
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
                self.remote.upload(data, remote_path, size=size, callback=callback)
        except SSH_ERRORS as exc:
            self.bytes_sent += sent
            raise self.fail(
                "upload",
                f"connection lost after {human_bytes(sent)} of {human_bytes(size)} ({exc})",
                "re-run the deploy; the next ship removes the partial file",
            ) from exc
        finally:
            if meter:
                meter.finish()
