"""Which image layers a host lacks, and a `docker save` archive trimmed to just those.

Docker's loader (classic image store) looks each layer up by its chain id and reads the layer
file only when that chain is missing, so an archive without the layers the host already has
loads fine. Everything here is pure: no Docker, no SSH; archives are file-like objects.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """Chain id of every prefix of a layer stack (OCI image spec, "ChainID")."""
    chains: list[str] = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            digest = hashlib.sha256(f"{chains[-1]} {diff_id}".encode()).hexdigest()
            chains.append(f"sha256:{digest}")
    return chains


def all_chain_ids(layer_stacks: Iterable[Sequence[str]]) -> set[str]:
    """Every chain id a host holds, given the diff id list of each of its images."""
    held: set[str] = set()
    for stack in layer_stacks:
        held.update(chain_ids(stack))
    return held


@dataclass(frozen=True)
class LayerPlan:
    """What to send for one image: the layers whose chain the host does not hold."""

    image_ref: str
    diff_ids: tuple[str, ...]
    chain_ids: tuple[str, ...]
    missing: tuple[int, ...]  # indexes into diff_ids
    layer_sizes: tuple[int, ...] = ()  # uncompressed bytes per layer, when known

    @property
    def missing_diff_ids(self) -> tuple[str, ...]:
        return tuple(self.diff_ids[i] for i in self.missing)

    @property
    def present(self) -> int:
        return len(self.diff_ids) - len(self.missing)

    @property
    def bytes_to_send(self) -> int:
        """Uncompressed layer bytes the host lacks (0 when sizes are unknown)."""
        if len(self.layer_sizes) != len(self.diff_ids):
            return 0
        return sum(self.layer_sizes[i] for i in self.missing)


def plan_layers(
    local_diff_ids: Sequence[str],
    host_chain_ids: set[str],
    *,
    image_ref: str = "",
    layer_sizes: Sequence[int] = (),
) -> LayerPlan:
    """Compare an image's layer stack with the chains a host holds."""
    chains = chain_ids(local_diff_ids)
    missing = tuple(i for i, chain in enumerate(chains) if chain not in host_chain_ids)
    return LayerPlan(image_ref, tuple(local_diff_ids), tuple(chains), missing, tuple(layer_sizes))


@dataclass(frozen=True)
class SavedImage:
    """One entry of a `docker save` manifest.json, joined with its config's diff ids."""

    config_path: str
    repo_tags: tuple[str, ...]
    layer_paths: tuple[str, ...]
    diff_ids: tuple[str, ...]


class ArchiveError(ValueError):
    """The archive is not a `docker save` archive this module understands."""


def read_saved_images(archive: tarfile.TarFile) -> list[SavedImage]:
    """Read manifest.json (wherever it sits in the tar) and each image's config."""
    try:
        manifest = json.load(_member_file(archive, "manifest.json"))
    except (KeyError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"no readable manifest.json: {exc}") from exc
    images = []
    for entry in manifest:
        config = json.load(_member_file(archive, entry["Config"]))
        diff_ids = tuple(config["rootfs"]["diff_ids"])
        layer_paths = tuple(entry["Layers"])
        if len(diff_ids) != len(layer_paths):
            raise ArchiveError(
                f"{entry['Config']}: {len(diff_ids)} diff ids, {len(layer_paths)} layers"
            )
        images.append(
            SavedImage(entry["Config"], tuple(entry.get("RepoTags") or ()), layer_paths, diff_ids)
        )
    return images


def layer_sizes(archive: tarfile.TarFile, image: SavedImage) -> list[int]:
    """Uncompressed size of each layer file, following the links `docker save` uses for dups."""
    return [resolve_member(archive, path).size for path in image.layer_paths]


def layers_to_drop(
    archive: tarfile.TarFile, images: Sequence[SavedImage], host_chain_ids: set[str]
) -> set[str]:
    """Archive members holding only layers the host has: every image that uses them has them.

    A layer file can be shared (same path twice in Layers, or a symlink to another layer's
    file), so a file is dropped only when no missing layer needs it.
    """
    candidates: set[str] = set()
    needed: set[str] = set()
    for image in images:
        for path, chain in zip(image.layer_paths, chain_ids(image.diff_ids), strict=True):
            target = resolve_member(archive, path).name
            if chain in host_chain_ids:
                candidates.update({path, target})
            else:
                needed.update({path, target})
    return candidates - needed


def filter_archive(archive: tarfile.TarFile, out: IO[bytes], drop: set[str]) -> int:
    """Write a tar holding every member of `archive` except those named in `drop`.

    Streams member by member (constant memory). Returns the layer bytes left out.
    """
    dropped = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as dst:
        for member in archive:
            if member.name in drop:
                dropped += member.size
                continue
            data = archive.extractfile(member) if member.isfile() else None
            dst.addfile(member, data)
    return dropped


class HashingWriter:
    """A write-only file that counts and sha256-hashes what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.bytes = 0
        self._sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._sha.update(data)
        self.bytes += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


# Below this many bytes kept, gzip's best level costs milliseconds and saves a sixth of the
# wire (a code-only layer); above it, level 1: the wire, not the CPU, should be the limit.
SMALL_ARCHIVE = 4_000_000


def write_gzipped_archive(
    archive: tarfile.TarFile, out: IO[bytes], drop: set[str]
) -> HashingWriter:
    """filter_archive into gzip, at the level the kept size calls for."""
    kept = sum(m.size for m in archive.getmembers() if m.isfile() and m.name not in drop)
    level = 9 if kept < SMALL_ARCHIVE else 1
    hashed = HashingWriter(out)
    # mtime=0 keeps the bytes reproducible: same image, same plan, same checksum.
    with gzip.GzipFile(fileobj=hashed, mode="wb", compresslevel=level, mtime=0) as gz:
        filter_archive(archive, gz, drop)
    return hashed


def _member_file(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    member = resolve_member(archive, name)
    handle = archive.extractfile(member)
    if handle is None:
        raise ArchiveError(f"{name} is not a regular file")
    return handle


def resolve_member(archive: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    """The member behind `name`, following symlinks inside the archive (max 8 hops)."""
    member = archive.getmember(name)
    for _ in range(8):
        if not member.issym():
            return member
        target = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), member.linkname))
        member = archive.getmember(target)
    raise ArchiveError(f"{name}: too many symlinks")
