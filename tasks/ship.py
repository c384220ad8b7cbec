"""Send a local image to a host over SSH, only the layers the host lacks.

save (local) -> ask the host which layer chains it holds -> drop those layer files from the
archive -> gzip + sha256 -> SFTP to a staging file -> verify the checksum -> `docker load`
-> verify the image id -> tag. A partial archive the host refuses is retried once in full.
Remote commands are built as data (argv lists) and quoted once, where they are run.
"""

from __future__ import annotations

import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.models.images
from fabric import Connection

from tasks.layers import (
    ArchiveError,
    all_chain_ids,
    layer_sizes,
    layers_to_drop,
    plan_layers,
    read_saved_images,
)
from tasks.progress import human_bytes
from tasks.ship_commands import (
    docker_info_cmd,
    host_layers_cmd,
    image_id_cmd,
    joined,
    parse_image_store,
    parse_layer_lists,
    tag_cmds,
)
from tasks.ship_transfer import (
    LoadRefused,
    ProgressCallback,
    Sender,
    ShipError,
    check,
    host_label,
    run,
)

__all__ = ["STAGE_DIR", "ShipError", "ShipResult", "host_chain_ids", "host_image_store", "ship"]

STAGE_DIR = "/var/tmp/dtma-deploy"
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
    fell_back: bool  # a partial archive was refused and the full one sent after it
    sha256: str  # of the (last) archive sent; "" when nothing was sent
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


# -- asking the host -------------------------------------------------------------------------


def host_image_store(conn: Connection) -> str:
    """'classic' or 'containerd'; also the first proof that SSH and the host's Docker work."""
    result = run(conn, "docker", docker_info_cmd())
    if result.exited == 127:
        raise ShipError(
            "docker", "docker is not installed", "install Docker Engine", host_label(conn)
        )
    check(conn, "docker", result, "start the host's Docker engine (systemctl start docker)")
    return parse_image_store(result.stdout)


def host_chain_ids(conn: Connection) -> set[str]:
    """Chain id of every layer prefix of every image the host holds."""
    result = run(conn, "host layers", host_layers_cmd())
    # An image deleted between `ls` and `inspect` fails only that one; the rest still count.
    if result.failed and "No such image" not in result.stderr:
        check(conn, "host layers", result, "check `docker image ls` on the host")
    return all_chain_ids(parse_layer_lists(result.stdout))


def host_has_image(conn: Connection, image_id: str) -> bool:
    result = run(conn, "host image", image_id_cmd(image_id))
    return result.ok and result.stdout.strip() == image_id


# -- shipping --------------------------------------------------------------------------------


def ship(
    conn: Connection,
    image_ref: str,
    *,
    stage_dir: str = STAGE_DIR,
    full: bool = False,
    progress: bool = True,
    docker_client: docker.DockerClient | None = None,
    on_progress: ProgressCallback | None = None,
    present: set[str] | None = None,
) -> ShipResult:
    """Make the host hold `image_ref` (same image id, same tags), sending as little as possible.

    `on_progress(sent, total)` is called as the upload advances (tests use it to cut links).
    `present`: the host's layer chain ids when the caller just asked (saves a round trip).
    """
    started = time.monotonic()
    client = docker_client or docker.from_env()
    try:
        image = client.images.get(image_ref)
    except docker.errors.ImageNotFound as exc:
        raise ShipError("local image", f"no local image {image_ref}", "build it first") from exc
    tags = tuple(image.tags)
    layers_total = len(image.attrs["RootFS"].get("Layers") or [])

    store = host_image_store(conn)
    if not full and host_has_image(conn, image.id):
        tag(conn, image.id, tags)
        return ShipResult(
            image.id, image_ref, False, layers_total, 0, 0, image.attrs["Size"],
            time.monotonic() - started, False, "", tags,
        )  # fmt: skip

    if full or store == "containerd":
        present = set()
    elif present is None:
        present = host_chain_ids(conn)
    fell_back = False
    with tempfile.TemporaryDirectory(prefix="dtma-ship-") as work:
        saved = Path(work, "image.tar")
        save_image(image, image_ref, saved)
        with tarfile.open(saved, mode="r:") as archive:
            drop, layers_sent = plan_archive(archive, image_ref, present)
            send = Sender(conn, archive, Path(work), stage_dir, progress, on_progress)
            try:
                send(drop)
            except LoadRefused as refused:
                if not drop:
                    raise ShipError("load", str(refused), LOAD_HINT, send.host) from None
                print(f"{send.host}: partial archive refused ({refused}); sending it all once")
                fell_back, drop, layers_sent = True, set(), layers_total
                try:
                    send(drop)
                except LoadRefused as again:
                    raise ShipError("load", str(again), LOAD_HINT, send.host) from None

    loaded = run(conn, "verify", image_id_cmd(image.id))
    if loaded.failed or loaded.stdout.strip() != image.id:
        raise ShipError(
            "verify", f"host lacks {image.id} after load", "re-run with full=True", send.host
        )
    tag(conn, image.id, tags)
    return ShipResult(
        image.id, image_ref, not drop, layers_total, layers_sent, send.bytes_sent,
        image.attrs["Size"], time.monotonic() - started, fell_back, send.sha256, tags,
    )  # fmt: skip


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
        raise ShipError("save", f"unreadable docker save archive: {exc}", "report a bug") from exc


def save_image(image: docker.models.images.Image, image_ref: str, dest: Path) -> None:
    """`docker save` to a local file: the manifest comes last, so it can't be filtered live."""
    named: str | bool = image_ref if image_ref in image.tags else bool(image.tags)
    try:
        with open(dest, "wb") as out:
            for chunk in image.save(chunk_size=1 << 20, named=named):
                out.write(chunk)
    except (docker.errors.APIError, OSError) as exc:
        raise ShipError(
            "save", f"local docker save failed: {exc}", "check local disk space"
        ) from exc


def tag(conn: Connection, image_id: str, tags: Sequence[str]) -> None:
    if tags:
        check(conn, "tag", run(conn, "tag", joined(tag_cmds(image_id, tags))), "check the tags")
