"""A partial image archive for engines with the containerd image store.

Their `docker load` refuses a `docker save` archive that lacks a layer file, but takes an OCI
image layout whose manifest names every layer while its blobs/ holds only the missing ones:
the layers the host holds are found in its content store by digest (verified on Docker 26 and
28). The manifest is a Docker v2 one with the layers as `docker save` wrote them, so the image
loads with the very id a full load gives it. Pure: archives are file-like objects.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
from typing import IO

from tasks.layers import SMALL_ARCHIVE, ArchiveError, HashingWriter, SavedImage, resolve_member

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX = "application/vnd.oci.image.index.v1+json"


def layer_descriptor(archive: tarfile.TarFile, path: str, diff_id: str) -> dict:
    """A layer as the saved archive holds it: a legacy `layer.tar` (uncompressed, so its
    digest is its diff id) or a `blobs/sha256/<digest>` file, gzip or plain."""
    member = resolve_member(archive, path)
    handle = archive.extractfile(member)
    if handle is None:
        raise ArchiveError(f"{path} is not a regular file")
    magic = handle.read(4)
    if magic.startswith(b"\x1f\x8b"):
        media_type = LAYER_GZIP
    elif magic == b"\x28\xb5\x2f\xfd":
        raise ArchiveError(f"{path}: zstd layers are not sent partially")
    else:
        media_type = LAYER
    digest = diff_id
    if member.name.startswith("blobs/sha256/"):
        digest = "sha256:" + posixpath.basename(member.name)
    elif media_type != LAYER:
        raise ArchiveError(f"{path}: a compressed legacy layer file")
    return {"mediaType": media_type, "digest": digest, "size": member.size}


def image_name(ref: str) -> str:
    """containerd's full name for a reference: dtma:v1 -> docker.io/library/dtma:v1."""
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return ref
    return f"docker.io/{ref}" if "/" in ref else f"docker.io/library/{ref}"


def write_oci_archive(
    archive: tarfile.TarFile, image: SavedImage, image_ref: str, drop: set[str], out: IO[bytes]
) -> None:
    """An OCI layout of `image` named `image_ref`, without the layer files in `drop`."""
    config = resolve_member(archive, image.config_path)
    config_bytes = _read(archive, config)
    descriptors = [
        layer_descriptor(archive, path, diff_id)
        for path, diff_id in zip(image.layer_paths, image.diff_ids, strict=True)
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": _digest(config_bytes), "size": len(config_bytes)},
        "layers": descriptors,
    }
    manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
    tag = image_ref.rsplit(":", 1)[1] if ":" in image_ref.split("/")[-1] else "latest"
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [
            {
                "mediaType": MANIFEST,
                "digest": _digest(manifest_bytes),
                "size": len(manifest_bytes),
                "annotations": {
                    "io.containerd.image.name": image_name(image_ref),
                    "org.opencontainers.image.ref.name": tag,
                },
            }
        ],
    }
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as dst:
        _add(dst, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(dst, "index.json", json.dumps(index, separators=(",", ":")).encode())
        _add(dst, _blob(manifest_bytes), manifest_bytes)
        _add(dst, _blob(config_bytes), config_bytes)
        written: set[str] = set()
        for path, descriptor in zip(image.layer_paths, descriptors, strict=True):
            name = "blobs/sha256/" + descriptor["digest"].split(":", 1)[1]
            if path in drop or name in written:
                continue
            member = resolve_member(archive, path)
            info = tarfile.TarInfo(name)
            info.size, info.mode = member.size, 0o644
            dst.addfile(info, archive.extractfile(member))
            written.add(name)


def write_gzipped_oci_archive(
    archive: tarfile.TarFile, image: SavedImage, image_ref: str, drop: set[str], out: IO[bytes]
) -> HashingWriter:
    """write_oci_archive into gzip (best level for a small archive, as the legacy one)."""
    kept = sum(resolve_member(archive, path).size for path in image.layer_paths if path not in drop)
    hashed = HashingWriter(out)
    level = 9 if kept < SMALL_ARCHIVE else 1
    with gzip.GzipFile(fileobj=hashed, mode="wb", compresslevel=level, mtime=0) as gz:
        write_oci_archive(archive, image, image_ref, drop, gz)
    return hashed


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(data: bytes) -> str:
    return "blobs/sha256/" + hashlib.sha256(data).hexdigest()


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    if handle is None:
        raise ArchiveError(f"{member.name} is not a regular file")
    return handle.read()


def _add(dst: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    dst.addfile(info, io.BytesIO(data))
