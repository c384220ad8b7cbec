"""An image's fingerprint: the same image read from either image store is the same image."""

from __future__ import annotations

import copy

from tasks import identity

LAYERS = ["sha256:" + "1" * 64, "sha256:" + "2" * 64]
# As Docker 20.10 (classic store) prints it: the container config in full, empty fields too.
CLASSIC = {
    "Id": "sha256:" + "c" * 64,
    "RootFS": {"Type": "layers", "Layers": LAYERS},
    "Config": {
        "Hostname": "",
        "User": "",
        "AttachStdin": False,
        "ExposedPorts": {"30000/tcp": {}, "30001/tcp": {}},
        "Env": ["PATH=/usr/bin", "PORT=30000"],
        "Cmd": ["python3", "-m", "dtma"],
        "Healthcheck": {"Test": ["CMD", "python3", "-m", "dtma.healthcheck"], "Interval": 10**10},
        "Image": "sha256:" + "9" * 64,
        "Volumes": None,
        "WorkingDir": "/app",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": {"org.opencontainers.image.version": "abc1234"},
    },
    "Os": "linux",
    "Architecture": "amd64",
}
# As a containerd-store engine prints it: another id, only the OCI config's fields.
CONTAINERD = {
    "Id": "sha256:" + "d" * 64,
    "RootFS": {"Type": "layers", "Layers": LAYERS},
    "Config": {
        "ExposedPorts": {"30001/tcp": {}, "30000/tcp": {}},
        "Env": ["PATH=/usr/bin", "PORT=30000"],
        "Cmd": ["python3", "-m", "dtma"],
        "Healthcheck": {"Test": ["CMD", "python3", "-m", "dtma.healthcheck"], "Interval": 10**10},
        "WorkingDir": "/app",
        "Labels": {"org.opencontainers.image.version": "abc1234"},
    },
    "Os": "linux",
    "Architecture": "amd64",
}


def test_one_image_has_one_fingerprint_in_both_stores():
    assert identity.fingerprint(CLASSIC) == identity.fingerprint(CONTAINERD)
    assert identity.fingerprint(CLASSIC).startswith("fp:")


def test_what_a_container_would_run_differently_changes_the_fingerprint():
    base = identity.fingerprint(CLASSIC)
    changes = [
        ("RootFS", {"Layers": LAYERS[:1]}),
        ("Architecture", "arm64"),
    ]
    for key, value in changes:
        assert identity.fingerprint({**CLASSIC, key: value}) != base, key
    for key, value in [
        ("Cmd", ["python3"]),
        ("Env", ["PORT=1"]),
        ("Labels", {}),
        ("User", "nobody"),
        ("Entrypoint", ["/bin/sh"]),
    ]:
        changed = copy.deepcopy(CLASSIC)
        changed["Config"][key] = value
        assert identity.fingerprint(changed) != base, key


def test_platform_names():
    assert identity.platform_of(CLASSIC) == "linux/amd64"
    assert identity.platform_of({"Architecture": "arm64", "Variant": "v8"}) == "linux/arm64/v8"
    assert identity.docker_arch("x86_64") == "amd64"
    assert identity.docker_arch("aarch64\n") == "arm64"


def test_an_inspect_line_of_a_missing_image_is_none():
    assert identity.parse_inspect_line("") is None
    assert identity.parse_inspect_line("Error: No such image: dtma:x") is None
    assert identity.parse_inspect_line('{"RootFS": {"Layers": []}}') == {"RootFS": {"Layers": []}}
