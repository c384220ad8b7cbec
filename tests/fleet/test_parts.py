"""The fleet's parts that need no host: each host's output routed to its log, the image
archive saved once for every host."""

from __future__ import annotations

import io
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from tasks.fleet.images import SavedOnceClient
from tasks.fleet.output import routed


def test_each_host_writes_its_log_and_only_its_step_lines_reach_the_console(tmp_path):
    console = io.StringIO()
    real = sys.stdout
    sys.stdout = console
    try:
        with routed(tmp_path) as streams:

            def host(name: str) -> None:
                with streams.for_host(name, f"root@{name}:22"):
                    print(f"root@{name}:22: candidate")
                    print("deploy table line", flush=True)
                    sys.stderr.write("ship 1 KB in 0s\n")

            with ThreadPoolExecutor(2) as pool:
                list(pool.map(host, ["a", "b"]))
            print("fleet: 2 done")
    finally:
        sys.stdout = real
    shown = console.getvalue().splitlines()
    assert sorted(shown[:2]) == ["root@a:22: candidate", "root@b:22: candidate"]
    assert shown[2:] == ["fleet: 2 done"]
    assert (tmp_path / "a.log").read_text() == (
        "root@a:22: candidate\ndeploy table line\nship 1 KB in 0s\n"
    )


class Image:
    id, tags, attrs = "sha256:abc", ["dtma:v2"], {"Size": 3}

    def __init__(self) -> None:
        self.saves = 0

    def save(self, chunk_size: int, named: str | bool):
        self.saves += 1
        yield from (b"lay", b"ers")


class Engine:
    def __init__(self) -> None:
        self.image = Image()
        self.images = self

    def get(self, ref: str) -> Image:
        return self.image


def test_the_archive_is_saved_once_for_every_host():
    engine = Engine()
    client = SavedOnceClient(engine)
    barrier = threading.Barrier(4)

    def ship() -> bytes:
        image = client.images.get("dtma:v2")
        barrier.wait()
        return b"".join(image.save(chunk_size=2, named="dtma:v2"))

    try:
        with ThreadPoolExecutor(4) as pool:
            archives = list(pool.map(lambda _: ship(), range(4)))
        assert archives == [b"layers"] * 4
        assert engine.image.saves == 1 and client.saves == 1
    finally:
        client.close()
