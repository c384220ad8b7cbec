"""Layer planning, archive trimming, progress lines and ship's command parsers: no host."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest

from tasks.layers import (
    ArchiveError,
    all_chain_ids,
    chain_ids,
    filter_archive,
    layer_sizes,
    layers_to_drop,
    plan_layers,
    read_saved_images,
    write_gzipped_archive,
)
from tests.support.save_archive import add_member, diff_id, save_archive

# Read from this machine's engine: `docker image inspect` of a 3-layer image for the diff ids,
# /var/lib/docker/image/overlay2/layerdb/sha256/<chain>/diff for the chain ids Docker computed.
DIFF_IDS = [
    "sha256:484206fe22b5a099ff5a8df95ed3281c9cde6926a0816cc11e7244aef6be5edf",
    "sha256:4bfabbabd4730e1d2a21c431d58a9d8281f6907fdfc9f1fa5febd2630e546050",
    "sha256:42de90dde06254988bee977cd80fe228be7ec73b7d0293d8b168a6cb8f9b201f",
]
CHAIN_IDS = [
    "sha256:484206fe22b5a099ff5a8df95ed3281c9cde6926a0816cc11e7244aef6be5edf",
    "sha256:0a80835d2dbfad6504379616e4718a30183546a3f9703b00c6ded86462f54958",
    "sha256:a64690794100ad566abe3298b3eaca4f2fda097a09b2773473e187bee6db5c53",
]


def members(data: bytes) -> dict[str, bytes | None]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() if m.isfile() else None for m in tar}


def trimmed(archive: io.BytesIO, present: set[str]) -> tuple[dict[str, bytes | None], set[str]]:
    with tarfile.open(fileobj=archive) as tar:
        drop = layers_to_drop(tar, read_saved_images(tar), present)
        out = io.BytesIO()
        filter_archive(tar, out, drop)
    return members(out.getvalue()), drop


LAYERS = [b"base" * 1000, b"deps" * 500, b"code"]


# -- chain ids and plans ---------------------------------------------------------------------


def test_chain_ids_match_dockers_own_layer_db():
    assert chain_ids(DIFF_IDS) == CHAIN_IDS
    assert chain_ids([]) == []
    assert chain_ids(DIFF_IDS[:1]) == CHAIN_IDS[:1]


def test_a_layer_in_another_stack_is_another_chain():
    other_order = chain_ids([DIFF_IDS[1], DIFF_IDS[0]])
    assert not set(other_order) & set(CHAIN_IDS)
    assert all_chain_ids([DIFF_IDS, DIFF_IDS[:1]]) == set(CHAIN_IDS)


@pytest.mark.parametrize(
    ("host_has", "missing"),
    [(set(), (0, 1, 2)), (set(CHAIN_IDS[:2]), (2,)), (set(CHAIN_IDS), ())],
    ids=["all-missing", "top-missing", "none-missing"],
)
def test_plan_names_the_missing_layers(host_has, missing):
    plan = plan_layers(DIFF_IDS, host_has, image_ref="app:v1", layer_sizes=[100, 20, 3])
    assert plan.missing == missing
    assert plan.missing_diff_ids == tuple(DIFF_IDS[i] for i in missing)
    assert plan.present == 3 - len(missing)
    assert plan.bytes_to_send == sum([100, 20, 3][i] for i in missing)
    assert plan.chain_ids == tuple(CHAIN_IDS)


def test_same_diff_id_under_another_parent_still_counts_as_missing():
    host = all_chain_ids([[DIFF_IDS[2]]])  # the top layer alone, as another image's base
    assert plan_layers(DIFF_IDS, host).missing == (0, 1, 2)


def test_plan_without_sizes_estimates_nothing():
    assert plan_layers(DIFF_IDS, set()).bytes_to_send == 0


# -- archives --------------------------------------------------------------------------------


@pytest.mark.parametrize("oci", [False, True], ids=["docker-20.10", "oci-layout"])
def test_filter_drops_exactly_the_layers_the_host_has(oci):
    archive = save_archive(LAYERS, oci=oci)
    before = members(archive.getvalue())
    present = set(chain_ids([diff_id(layer) for layer in LAYERS[:2]]))
    after, drop = trimmed(archive, present)
    assert set(before) - set(after) == drop
    assert sorted(after[name] for name in drop if name in after) == []
    kept_layers = [data for data in after.values() if data in LAYERS]
    assert kept_layers == [LAYERS[2]]
    for name, data in after.items():  # everything kept is byte for byte the same
        assert data == before[name]
    assert {"manifest.json", "repositories"} <= set(after)


def test_filter_keeps_everything_for_a_host_without_layers():
    archive = save_archive(LAYERS)
    after, drop = trimmed(archive, set())
    assert drop == set()
    assert after == members(archive.getvalue())


def test_layer_file_shared_by_a_missing_layer_is_kept():
    # Layers A, B, A: the host holds chains A and A+B, not A+B+A, whose file is a symlink to A's.
    layers = [b"A" * 100, b"B" * 100, b"A" * 100]
    present = set(chain_ids([diff_id(layer) for layer in layers[:2]]))
    after, drop = trimmed(save_archive(layers), present)
    assert drop == {"v1id1/layer.tar"}
    assert after["v1id0/layer.tar"] == layers[0]
    assert "v1id2/layer.tar" in after  # the symlink, and its target above


def test_saved_images_and_sizes_read_with_the_manifest_last():
    archive = save_archive(LAYERS, tag="dtma-agent:abc")
    with tarfile.open(fileobj=archive) as tar:
        assert tar.getnames()[-2] == "manifest.json"
        [image] = read_saved_images(tar)
        assert image.repo_tags == ("dtma-agent:abc",)
        assert image.diff_ids == tuple(diff_id(layer) for layer in LAYERS)
        assert layer_sizes(tar, image) == [len(layer) for layer in LAYERS]


def test_not_a_save_archive_is_a_clear_error():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        add_member(tar, "hello.txt", b"hi")
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar, pytest.raises(ArchiveError, match=r"manifest\.json"):
        read_saved_images(tar)


def test_gzipped_archive_hash_and_size_are_of_the_bytes_written():
    out = io.BytesIO()
    with tarfile.open(fileobj=save_archive(LAYERS)) as tar:
        hashed = write_gzipped_archive(tar, out, {"v1id0/layer.tar"})
    data = out.getvalue()
    assert hashed.bytes == len(data)
    assert hashed.sha256 == hashlib.sha256(data).hexdigest()
    assert "v1id0/layer.tar" not in members(gzip.decompress(data))
    again = io.BytesIO()
    with tarfile.open(fileobj=save_archive(LAYERS)) as tar:
        assert write_gzipped_archive(tar, again, {"v1id0/layer.tar"}).sha256 == hashed.sha256


# -- progress --------------------------------------------------------------------------------


# -- what ship asks the host, and how it reads the answers ------------------------------------
