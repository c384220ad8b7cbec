"""What a ship says it did."""

from tasks.steps.ship import EarlySave, ShipResult
from tests.support.save_archive import FakeDockerClient, FakeImage


def test_ship_summary_says_what_travelled():
    image = {"image_id": "sha256:" + "ab" * 32, "image_ref": "app:v2", "layers_total": 4}
    result = ShipResult(
        **image, full=False, layers_sent=1, bytes_sent=2_900, image_bytes=9, seconds=0.64
    )
    assert result.summary() == "shipped app:v2 (abababababab): 1/4 layers, 2.9 KB in 0.6s"
    same = ShipResult(**image, full=False, layers_sent=0, bytes_sent=0, image_bytes=9, seconds=0.3)
    assert "already on the host, 0 B" in same.summary()


def test_an_early_save_hands_over_the_archive_and_discard_removes_it():
    image = FakeImage("dtma:v2", [b"base", b"code"])
    saving = EarlySave("dtma:v2", FakeDockerClient(image))
    saved = saving.result()
    assert saved is not None and saved.read_bytes() == image.archive
    saving.discard()
    assert not saved.exists() and not saved.parent.exists()


def test_an_early_save_that_fails_leaves_the_save_to_the_ship():
    saving = EarlySave("dtma:missing", FakeDockerClient())
    assert saving.result() is None
    saving.discard()
