"""The remote commands `ship` runs, built as data, and the parsers of their answers.

Pure: no SSH here. Commands are argv lists, quoted once by `shlex.join` where they are run;
the two that need a shell (a pipeline, an `&&`) are returned as already-quoted strings.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

STAGED_PREFIX = "ship-"  # every file ship() stages starts so; leftovers are found by it


def docker_info_cmd() -> list[str]:
    return ["docker", "info", "--format", "{{.Driver}}|{{json .DriverStatus}}"]


def host_layers_cmd() -> str:
    """Every image's layer list in one round trip; prints nothing when the host has no image."""
    inspect = ["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}"]
    return (
        'ids=$(docker image ls -aq --no-trunc | sort -u); [ -z "$ids" ] || '
        f"{shlex.join(inspect)} $ids"
    )


def image_id_cmd(image_id: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{.Id}}", image_id]


def tag_cmds(image_id: str, tags: Sequence[str]) -> list[list[str]]:
    return [["docker", "tag", image_id, tag] for tag in tags]


def clean_stage_cmd(stage_dir: str) -> list[str]:
    """Leftovers of earlier runs (cut transfers, killed deploys); the deploy lock keeps
    a concurrent run from staging here at the same time."""
    return [
        "find",
        stage_dir,
        "-maxdepth",
        "1",
        "-type",
        "f",
        "-name",
        f"{STAGED_PREFIX}*",
        "-delete",
    ]


def prepare_stage_cmd(stage_dir: str) -> str:
    """Create the stage dir, clear earlier runs' leftovers, then say how much room is free."""
    return joined(
        [
            ["mkdir", "-p", "-m", "700", stage_dir],
            clean_stage_cmd(stage_dir),
            ["df", "-PB1", stage_dir],
        ]
    )


def checksum_cmd(path: str) -> list[str]:
    return ["sha256sum", path]


def load_cmd(path: str) -> list[str]:
    # docker load reads gzip itself: no shell pipe, so no pipefail question.
    return ["docker", "load", "-i", path]


def joined(commands: Sequence[Sequence[str]]) -> str:
    return " && ".join(shlex.join(argv) for argv in commands)


# -- parsing what the host says -----------------------------------------------------------


def parse_layer_lists(stdout: str) -> list[list[str]]:
    return [json.loads(line) or [] for line in stdout.splitlines() if line.startswith(("[", "n"))]


def parse_image_store(stdout: str) -> str:
    """'containerd' for the containerd image store (snapshotters), else 'classic'."""
    driver, _, status = stdout.strip().partition("|")
    if "io.containerd.snapshotter" in status or driver in {"overlayfs", "stargz", "nydus"}:
        return "containerd"
    return "classic"


def parse_df_available(stdout: str) -> int:
    """Available bytes from `df -PB1` (POSIX format: 4th column of the last line)."""
    return int(stdout.strip().splitlines()[-1].split()[3])


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
