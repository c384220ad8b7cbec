"""What the host says about its images, parsed."""

import json

from tasks.facts import host_images

DIFF_IDS = [
    "sha256:484206fe22b5a099ff5a8df95ed3281c9cde6926a0816cc11e7244aef6be5edf",
    "sha256:4bfabbabd4730e1d2a21c431d58a9d8281f6907fdfc9f1fa5febd2630e546050",
]


def test_image_store_detection():
    classic = 'overlay2|[["Backing Filesystem","extfs"],["Supports d_type","true"]]'
    containerd = 'overlayfs|[["driver-type","io.containerd.snapshotter.v1"]]'
    assert host_images.parse_image_store(classic) == "classic"
    assert host_images.parse_image_store(containerd) == "containerd"


def test_host_layer_lists_parse_including_images_without_layers():
    stdout = f"{json.dumps(DIFF_IDS)}\nnull\n{json.dumps(DIFF_IDS[:1])}\n"
    assert host_images.parse_layer_lists(stdout) == [DIFF_IDS, [], DIFF_IDS[:1]]
    assert host_images.parse_layer_lists("") == []


def test_df_available():
    df = "Filesystem 1-blocks Used Available Capacity Mounted on\ntmpfs 1048576 0 1048576 0% /x\n"
    assert host_images.parse_df_available(df) == 1048576
