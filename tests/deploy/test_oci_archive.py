"""The partial OCI layout sent to containerd-store hosts: every layer named, only the missing
ones carried, the layers as the saved archive holds them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from tasks import oci_archive
from tasks.layers import ArchiveError, read_saved_images
from tests.support.save_archive import diff_id, save_archive

LAYERS = [b"base" * 100, b"deps" * 10, b"code"]


def written(oci: bool, drop_first: int) -> tuple[dict[str, bytes], list[str]]:
    out = io.BytesIO()
    with tarfile.open(fileobj=save_archive(LAYERS, oci=oci, tag="dtma:v2"), mode="r:") as archive:
        image = read_saved_images(archive)[0]
        drop = set(image.layer_paths[:drop_first])
        oci_archive.write_gzipped_oci_archive(archive, image, "dtma:v2", drop, out)
    members = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(out.getvalue())), mode="r:") as tar:
        for member in tar:
            members[member.name] = tar.extractfile(member).read()
    return members, [diff_id(layer) for layer in LAYERS]


@pytest.mark.parametrize("oci", [False, True], ids=["from a legacy save", "from an OCI save"])
def test_the_manifest_names_every_layer_and_blobs_hold_only_the_missing(oci):
    members, diff_ids = written(oci, drop_first=2)
    index = json.loads(members["index.json"])
    (entry,) = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == "docker.io/library/dtma:v2"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "v2"
    manifest_bytes = members["blobs/sha256/" + entry["digest"][7:]]
    assert hashlib.sha256(manifest_bytes).hexdigest() == entry["digest"][7:]
    manifest = json.loads(manifest_bytes)
    assert [layer["digest"] for layer in manifest["layers"]] == diff_ids
    assert [layer["size"] for layer in manifest["layers"]] == [len(x) for x in LAYERS]
    assert {layer["mediaType"] for layer in manifest["layers"]} == {oci_archive.LAYER}
    config = members["blobs/sha256/" + manifest["config"]["digest"][7:]]
    assert json.loads(config)["rootfs"]["diff_ids"] == diff_ids
    layer_blobs = {name for name in members if name.startswith("blobs/")} - {
        "blobs/sha256/" + entry["digest"][7:],
        "blobs/sha256/" + manifest["config"]["digest"][7:],
    }
    assert layer_blobs == {"blobs/sha256/" + diff_ids[2][7:]}
    assert members["blobs/sha256/" + diff_ids[2][7:]] == LAYERS[2]
    assert members["oci-layout"] == b'{"imageLayoutVersion":"1.0.0"}'


def test_the_same_image_makes_the_same_manifest_whatever_is_left_out():
    """The manifest (so the id the host gives the image) does not depend on the plan."""
    full, _ = written(False, drop_first=0)
    partial, _ = written(False, drop_first=3)
    assert json.loads(full["index.json"]) == json.loads(partial["index.json"])


def test_a_compressed_blob_keeps_its_own_digest_and_type():
    layer = gzip.compress(b"code", mtime=0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("blobs/sha256/" + hashlib.sha256(layer).hexdigest())
        info.size = len(layer)
        tar.addfile(info, io.BytesIO(layer))
    buf.seek(0)
    with tarfile.open(fileobj=buf, mode="r:") as archive:
        name = archive.getnames()[0]
        descriptor = oci_archive.layer_descriptor(archive, name, diff_id(b"code"))
    assert descriptor["mediaType"] == oci_archive.LAYER_GZIP
    assert descriptor["digest"] == "sha256:" + name.rsplit("/", 1)[1]


def test_zstd_layers_are_refused_so_the_full_archive_goes():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("blobs/sha256/" + "a" * 64)
        info.size = 8
        tar.addfile(info, io.BytesIO(b"\x28\xb5\x2f\xfd0000"))
    buf.seek(0)
    with tarfile.open(fileobj=buf, mode="r:") as archive, pytest.raises(ArchiveError):
        oci_archive.layer_descriptor(archive, "blobs/sha256/" + "a" * 64, "sha256:x")


def test_image_names():
    assert oci_archive.image_name("dtma:v1") == "docker.io/library/dtma:v1"
    assert oci_archive.image_name("me/dtma:v1") == "docker.io/me/dtma:v1"
    assert oci_archive.image_name("reg.example:5000/dtma:v1") == "reg.example:5000/dtma:v1"
