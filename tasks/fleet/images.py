"""The image's `docker save` archive, made once for every host of a fleet run.

The ship step saves the image from the local engine and trims out the layers each host
already has. Saved once per host, a fleet of N pays N full saves of the same image (seconds
each, and they compete for the same disk and CPU while hosts ship in parallel). This wraps the
local engine's client: `images.get(ref).save(...)` streams from one file saved on first use.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class SavedOnceImage:
    """An image of the local engine whose `save()` replays one saved archive."""

    def __init__(self, image: Any, store: SavedOnceClient) -> None:
        self._image, self._store = image, store
        self.id, self.tags, self.attrs = image.id, image.tags, image.attrs

    def save(self, chunk_size: int = 1 << 20, named: str | bool = False) -> Iterator[bytes]:
        path = self._store.archive(self._image, named, chunk_size)
        with open(path, "rb") as archive:
            while chunk := archive.read(chunk_size):
                yield chunk


class SavedOnceClient:
    """Stands in for a `docker.DockerClient` where ship uses one: `client.images.get(ref)`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._folder = Path(tempfile.mkdtemp(prefix="dtma-fleet-save-"))
        self._saved: dict[tuple[str, str | bool], Path] = {}
        self._lock = threading.Lock()
        self.saves = 0  # how many archives were really made

    @property
    def images(self) -> SavedOnceClient:
        return self

    def get(self, ref: str) -> SavedOnceImage:
        return SavedOnceImage(self._client.images.get(ref), self)

    def archive(self, image: Any, named: str | bool, chunk_size: int) -> Path:
        key = (image.id, named)
        with self._lock:  # hosts that ask meanwhile wait for the one save
            if key not in self._saved:
                path = self._folder / f"{len(self._saved)}.tar"
                with open(path, "wb") as out:
                    for chunk in image.save(chunk_size=chunk_size, named=named):
                        out.write(chunk)
                self._saved[key] = path
                self.saves += 1
            return self._saved[key]

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)
