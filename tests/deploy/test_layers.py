"""Layer planning, archive trimming, progress lines and ship's command parsers: no host."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from tasks.commands import docker, files, scripts
from tasks.commands.shell import chain, to_shell
from tasks.errors import DeployError
from tasks.facts import host_images
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
from tasks.progress import TransferProgress, format_progress
from tasks.runner import CommandResult
from tasks.steps.ship import ShipResult
from tasks.units import human_bytes, human_duration

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


def diff_id(layer: bytes) -> str:
    return "sha256:" + hashlib.sha256(layer).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", *, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    if link:
        info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info)
    elif name.endswith("/"):
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def save_archive(layers: list[bytes], *, oci: bool = False, tag: str = "app:v1") -> io.BytesIO:
    """A `docker save`-shaped tar, manifest last (as Docker 20.10 writes it); duplicate layers
    become symlinks in the legacy layout and one shared blob in the OCI layout."""
    diff_ids = [diff_id(layer) for layer in layers]
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    buf = io.BytesIO()
    paths: list[str] = []
    with tarfile.open(fileobj=buf, mode="w") as tar:
        first_path: dict[str, str] = {}
        for i, (layer, did) in enumerate(zip(layers, diff_ids, strict=True)):
            if oci:
                path = f"blobs/sha256/{did[7:]}"
                if did not in first_path:
                    _add(tar, path, layer)
            else:
                path = f"v1id{i}/layer.tar"
                _add(tar, f"v1id{i}/")
                _add(tar, f"v1id{i}/VERSION", b"1.0")
                if did in first_path:
                    _add(tar, path, link=f"../{first_path[did]}")
                else:
                    _add(tar, path, layer)
            first_path.setdefault(did, path)
            paths.append(path)
        config_path = f"blobs/sha256/{'c' * 64}" if oci else f"{'c' * 64}.json"
        _add(tar, config_path, config)
        manifest = [{"Config": config_path, "RepoTags": [tag], "Layers": paths}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        _add(tar, "repositories", b'{"app":{"v1":"x"}}')
    buf.seek(0)
    return buf


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
        _add(tar, "hello.txt", b"hi")
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


def test_human_units():
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KB"
    assert human_bytes(3 * 1000**3) == "3.0 GB"
    assert human_duration(9.4) == "9s"
    assert human_duration(75) == "1m15s"


def test_progress_line_shows_sent_total_rate_and_eta():
    line = format_progress("ship", 12 * 1000**2, 48 * 1000**2, 2.0)
    assert line == "ship 12.0 MB / 48.0 MB   25%  6.0 MB/s  ETA 6s"
    assert format_progress("ship", 0, 10, 0.0).endswith("ETA ?")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_at_most_ten_times_a_second_on_a_terminal():
    now = [0.0]
    out = FakeTerminal()
    meter = TransferProgress("ship", 1000, stream=out, clock=lambda: now[0])
    for sent in range(0, 1001, 10):  # 101 callbacks within 0.5 s
        now[0] = sent / 2000
        meter(sent, 1000)
    meter.finish()
    text = out.getvalue()
    assert 5 <= text.count("\r") <= 7  # 6 draws (0, .1, .2, .3, .4, .5 s) + the final one
    # rich hides the cursor while it draws and shows it again after the final line.
    assert text.removesuffix("\x1b[?25h").endswith("\n") and text.count("\n") == 1
    assert "1.0 KB / 1.0 KB  100%" in text.rsplit("\r", 1)[1]


def test_progress_off_a_terminal_prints_one_summary_line():
    now = [0.0]
    out = io.StringIO()
    meter = TransferProgress("ship", 2000, stream=out, clock=lambda: now[0])
    for sent in (1000, 2000):
        now[0] += 1
        meter(sent, 2000)
    meter.finish()
    assert out.getvalue() == "ship 2.0 KB in 2s (1.0 KB/s)\n"


# -- what ship asks the host, and how it reads the answers ------------------------------------


def test_image_store_detection():
    classic = 'overlay2|[["Backing Filesystem","extfs"],["Supports d_type","true"]]'
    containerd = 'overlayfs|[["driver-type","io.containerd.snapshotter.v1"]]'
    assert host_images.parse_image_store(classic) == "classic"
    assert host_images.parse_image_store(containerd) == "containerd"


def test_host_layer_lists_parse_including_images_without_layers():
    stdout = f"{json.dumps(DIFF_IDS)}\nnull\n{json.dumps(DIFF_IDS[:1])}\n"
    assert host_images.parse_layer_lists(stdout) == [DIFF_IDS, [], DIFF_IDS[:1]]
    assert host_images.parse_layer_lists("") == []


def test_df_available_and_last_line():
    df = "Filesystem 1-blocks Used Available Capacity Mounted on\ntmpfs 1048576 0 1048576 0% /x\n"
    assert host_images.parse_df_available(df) == 1048576
    failed = CommandResult("docker load", 1, "", "a\nError: layer does not exist\n\n")
    assert failed.last_line() == "Error: layer does not exist"
    assert CommandResult("docker load", 1, "", "").last_line() == "exit 1"


def test_commands_quote_paths_once():
    assert to_shell(files.prepare_stage("/var/tmp/my dir")) == (
        "mkdir -p -m 700 '/var/tmp/my dir' && find '/var/tmp/my dir' -maxdepth 1 -type f "
        "-name 'ship-*' -delete && df -PB1 '/var/tmp/my dir'"
    )
    assert files.clean_stage("/s")[-3:] == ["-name", "ship-*", "-delete"]
    tags = [docker.tag("sha256:1", ref) for ref in ["a:1", "b:2"]]
    assert to_shell(chain(*tags)) == ("docker tag sha256:1 a:1 && docker tag sha256:1 b:2")
    assert scripts.host_layers()[-1].endswith("--format '{{json .RootFS.Layers}}' $ids")


def test_ship_error_is_one_line_with_host_step_cause_and_hint():
    err = DeployError("root@h:22", "disk", "/var/tmp has 1.0 MB free", "free space")
    assert str(err) == "root@h:22: disk failed: /var/tmp has 1.0 MB free -> free space"
    assert "\n" not in str(err)


def test_ship_summary_says_what_travelled():
    image = {"image_id": "sha256:" + "ab" * 32, "image_ref": "app:v2", "layers_total": 4}
    result = ShipResult(
        **image, full=False, layers_sent=1, bytes_sent=2_900, image_bytes=9, seconds=0.64
    )
    assert result.summary() == "shipped app:v2 (abababababab): 1/4 layers, 2.9 KB in 0.6s"
    same = ShipResult(**image, full=False, layers_sent=0, bytes_sent=0, image_bytes=9, seconds=0.3)
    assert "already on the host, 0 B" in same.summary()
