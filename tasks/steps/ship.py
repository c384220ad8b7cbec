"""ship: make the host hold a local image, sending only the layers it lacks.

save (local) -> ask the host which layer chains it holds -> drop those layer files from the
archive -> gzip + sha256 -> SFTP to a staging file -> verify the checksum -> `docker load`
-> verify the image id -> tag. A partial archive the host refuses is retried once in full.
"""

from __future__ import annotations

import atexit
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import docker
import docker.models.images

from tasks import identity
from tasks.commands import docker as docker_commands
from tasks.commands.shell import chain
from tasks.errors import DeployError
from tasks.facts.host_images import read_chain_ids, read_fingerprint, read_image_store
from tasks.layers import (
    ArchiveError,
    HashingWriter,
    layer_sizes,
    layers_to_drop,
    plan_layers,
    read_saved_images,
    write_gzipped_archive,
)
from tasks.oci_archive import write_gzipped_oci_archive
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps.transfer import LoadRefused, ProgressCallback, Sender
from tasks.units import human_bytes

STAGE_DIR = DeploySettings.stage_dir  # one default, the settings' own
LOAD_HINT = "see `docker load` and the dockerd log on the host; its images are unchanged"


@dataclass(frozen=True)
class ShipResult:
    image_id: str
    image_ref: str
    full: bool  # the archive held every layer
    layers_total: int
    layers_sent: int
    bytes_sent: int  # compressed bytes over the wire, every attempt included
    image_bytes: int  # uncompressed size of the image
    seconds: float
    fell_back: bool = False  # a partial archive was refused and the full one sent after it
    sha256: str = ""  # of the (last) archive sent; "" when nothing was sent
    tags: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.full:
            how = "full archive"
        elif self.layers_sent or self.bytes_sent:
            how = f"{self.layers_sent}/{self.layers_total} layers"
        else:
            how = "already on the host"
        extra = ", after a refused partial archive" if self.fell_back else ""
        return (
            f"shipped {self.image_ref} ({self.image_id[7:19]}): {how}, "
            f"{human_bytes(self.bytes_sent)} in {self.seconds:.1f}s{extra}"
        )


def ship(
    remote: Remote,
    image_ref: str,
    *,
    stage_dir: str = STAGE_DIR,
    full: bool = False,
    progress: bool = True,
    docker_client: docker.DockerClient | None = None,
    on_progress: ProgressCallback | None = None,
    present: set[str] | None = None,
    store: str = "",
    host_fingerprint: str | None = None,
    saving: EarlySave | None = None,
    tag_others: bool = True,
) -> ShipResult:
    """Make the host hold `image_ref` (same image, same tags), sending as little as possible.

    `on_progress(sent, total)` is called as the upload advances (tests use it to cut links).
    `present`: the chain ids `reusable_chain_ids` gave, when the caller just asked,
    `store`: the host's image store, and `host_fingerprint`: that of the host's `image_ref`
    ("" when it lacks one), when known (each saves a round trip). `saving`: a save of this
    image started earlier (`EarlySave`), used instead of saving it again. `tag_others`: the
    local image's other tags (e.g. dtma:latest) move on the host too (not in a load ahead of
    the host's turn).
    """
    started = time.monotonic()
    client = docker_client or docker.from_env()
    try:
        image = client.images.get(image_ref)
    except docker.errors.ImageNotFound:
        cause = f"no local image {image_ref}"
        raise DeployError("local", "local image", cause, "build it first") from None
    tags = tuple(image.tags) if tag_others else (image_ref,)
    layers_total = len(image.attrs["RootFS"].get("Layers") or [])
    fingerprint = identity.fingerprint(image.attrs)

    store = store or read_image_store(remote)
    if host_fingerprint is None:
        host_fingerprint = read_fingerprint(remote, image_ref)
    if not full and host_fingerprint == fingerprint:
        tag(remote, image_ref, tags)
        return ShipResult(
            image_id=image.id,
            image_ref=image_ref,
            full=False,
            layers_total=layers_total,
            layers_sent=0,
            bytes_sent=0,
            image_bytes=image.attrs["Size"],
            seconds=time.monotonic() - started,
            tags=tags,
        )

    if full:
        present = set()
    elif present is None:
        present = reusable_chain_ids(remote, store, image_ref)
    fell_back = False
    with tempfile.TemporaryDirectory(prefix="dtma-ship-") as work:
        saved = saving.result() if saving and saving.image_ref == image_ref else None
        if saved is None:
            saved = Path(work, "image.tar")
            save_image(image, image_ref, saved)
        with tarfile.open(saved, mode="r:") as archive:
            drop, layers_sent = plan_archive(archive, image_ref, present)

            def legacy(out: IO[bytes], drop: set[str]) -> HashingWriter:
                return write_gzipped_archive(archive, out, drop)

            def oci(out: IO[bytes], drop: set[str]) -> HashingWriter:
                saved_image = read_saved_images(archive)[0]
                return write_gzipped_oci_archive(archive, saved_image, image_ref, drop, out)

            first = oci if store == "containerd" and drop else legacy
            send = Sender(remote, image_ref, first, Path(work), stage_dir, progress, on_progress)
            try:
                loaded = send(drop)
            except (LoadRefused, ArchiveError) as refused:
                if not drop:
                    raise DeployError(remote.host, "load", str(refused), LOAD_HINT) from None
                print(f"{remote.host}: partial archive refused ({refused}); sending it all once")
                fell_back, drop, layers_sent = True, set(), layers_total
                try:
                    loaded = send(drop, legacy)
                except LoadRefused as again:
                    raise DeployError(remote.host, "load", str(again), LOAD_HINT) from None

    inspected = identity.parse_inspect_line(loaded)
    if not inspected or identity.fingerprint(inspected) != fingerprint:
        cause = f"after the load the host's {image_ref} is not the image sent"
        raise DeployError(remote.host, "verify", cause, "re-run with --full")
    tag(remote, image_ref, tags)
    return ShipResult(
        image_id=image.id,
        image_ref=image_ref,
        full=not drop,
        layers_total=layers_total,
        layers_sent=layers_sent,
        bytes_sent=send.bytes_sent,
        image_bytes=image.attrs["Size"],
        seconds=time.monotonic() - started,
        fell_back=fell_back,
        sha256=send.sha256,
        tags=tags,
    )


def reusable_chain_ids(remote: Remote, store: str, image_ref: str) -> set[str]:
    """The layer chains a partial archive may leave out. The classic store looks layers up by
    chain id; the containerd store needs each left-out layer's blob in its content store as
    `docker save` wrote it, which holds for the images a deploy loaded: the agent's own."""
    repository = image_ref.rsplit(":", 1)[0] if store == "containerd" else None
    return read_chain_ids(remote, repository)


def plan_archive(
    archive: tarfile.TarFile, image_ref: str, present: set[str]
) -> tuple[set[str], int]:
    """Archive members to leave out, and how many layers stay in."""
    try:
        saved = read_saved_images(archive)
        plan = plan_layers(
            saved[0].diff_ids,
            present,
            image_ref=image_ref,
            layer_sizes=layer_sizes(archive, saved[0]),
        )
        return layers_to_drop(archive, saved, present), len(plan.missing)
    except (ArchiveError, KeyError, IndexError) as exc:
        cause = f"unreadable docker save archive: {exc}"
        raise DeployError("local", "save", cause, "report a bug") from exc


def save_image(
    image: docker.models.images.Image,
    image_ref: str,
    dest: Path,
    stop: threading.Event | None = None,
) -> None:
    """`docker save` to a local file: the manifest comes last, so it can't be filtered live.
    `stop` set: the save ends at the next chunk (the file is then incomplete)."""
    named: str | bool = image_ref if image_ref in image.tags else bool(image.tags)
    try:
        with open(dest, "wb") as out:
            chunks = image.save(chunk_size=1 << 20, named=named)
            for chunk in chunks:
                if stop is not None and stop.is_set():
                    chunks.close()  # the engine stops writing when the stream closes
                    return
                out.write(chunk)
    except (docker.errors.APIError, OSError) as exc:
        cause = f"local docker save failed: {exc}"
        raise DeployError("local", "save", cause, "check local disk space") from exc


class EarlySave:
    """`docker save` of a freshly built image, started in a thread while the host is asked what
    it holds: on a distant link the round trips and the save overlap instead of adding up.
    `discard()` removes the file and lets the save end on its own, unwaited: the engine sends
    nothing before it has exported the whole image, so waiting would cost a no-change deploy
    that export. Whatever is left at exit is removed then."""

    def __init__(self, image_ref: str, client: docker.DockerClient | None) -> None:
        self.image_ref = image_ref
        self._dir = Path(tempfile.mkdtemp(prefix="dtma-save-"))
        self._path = self._dir / "image.tar"
        self._stop = threading.Event()
        self._error: Exception | None = None
        atexit.register(shutil.rmtree, self._dir, ignore_errors=True)
        self._thread = threading.Thread(target=self._save, args=(client,), daemon=True)
        self._thread.start()

    def _save(self, client: docker.DockerClient | None) -> None:
        try:
            image = (client or docker.from_env()).images.get(self.image_ref)
            save_image(image, self.image_ref, self._path, stop=self._stop)
        except Exception as exc:  # only a head start: the ship saves again and says why
            self._error = exc

    def result(self) -> Path | None:
        """The saved archive; None when this save failed (the ship saves again and says why)."""
        self._thread.join()
        return None if self._error or self._stop.is_set() else self._path

    def discard(self) -> None:
        self._stop.set()
        shutil.rmtree(self._dir, ignore_errors=True)  # an open file goes once it is closed


def tag(remote: Remote, image_ref: str, tags: Sequence[str]) -> None:
    """Every other tag of the local image, on the host too."""
    others = [ref for ref in tags if ref != image_ref]
    if others:
        commands = [docker_commands.tag(image_ref, ref) for ref in others]
        remote.run(chain(*commands), step="tag", hint="check the tags")
