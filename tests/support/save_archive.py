"""`docker save`-shaped archives built in memory: no Docker engine needed."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from tasks import identity


def diff_id(layer: bytes) -> str:
    return "sha256:" + hashlib.sha256(layer).hexdigest()


def add_member(tar: tarfile.TarFile, name: str, data: bytes = b"", *, link: str = "") -> None:
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
                    add_member(tar, path, layer)
            else:
                path = f"v1id{i}/layer.tar"
                add_member(tar, f"v1id{i}/")
                add_member(tar, f"v1id{i}/VERSION", b"1.0")
                if did in first_path:
                    add_member(tar, path, link=f"../{first_path[did]}")
                else:
                    add_member(tar, path, layer)
            first_path.setdefault(did, path)
            paths.append(path)
        config_path = f"blobs/sha256/{'c' * 64}" if oci else f"{'c' * 64}.json"
        add_member(tar, config_path, config)
        manifest = [{"Config": config_path, "RepoTags": [tag], "Layers": paths}]
        add_member(tar, "manifest.json", json.dumps(manifest).encode())
        add_member(tar, "repositories", b'{"app":{"v1":"x"}}')
    buf.seek(0)
    return buf


class FakeImage:
    """What ship() reads of a local image through the Docker SDK."""

    def __init__(self, ref: str, layers: list[bytes]) -> None:
        self.tags = [ref]
        self.archive = save_archive(layers, tag=ref).getvalue()
        self.id = "sha256:" + hashlib.sha256(self.archive).hexdigest()
        self.diff_ids = [diff_id(layer) for layer in layers]
        self.attrs = {"RootFS": {"Layers": self.diff_ids}, "Size": sum(map(len, layers))}
        self.fingerprint = identity.fingerprint(self.attrs)

    def inspected(self) -> str:
        """What `docker image inspect --format INSPECT_FORMAT` prints of it on a host."""
        return json.dumps({"RootFS": self.attrs["RootFS"], "Config": {}})

    def survey_target(self, host_id: str = "") -> str:
        """The survey's `target=` value of a host holding this image (under `host_id`)."""
        return f"{host_id or self.id} {self.inspected()}"

    def save(self, chunk_size: int, named: str | bool):
        yield self.archive


class FakeDockerClient:
    def __init__(self, *images: FakeImage) -> None:
        by_ref = {image.tags[0]: image for image in images}
        self.images = type("Images", (), {"get": staticmethod(by_ref.__getitem__)})()
