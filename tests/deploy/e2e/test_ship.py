"""ship() against a real sandbox droplet over real SSH: only the missing layers travel."""

from __future__ import annotations

import contextlib
import io
import tarfile
import uuid

import docker
import pytest

from tasks import sandbox
from tasks.errors import DeployError
from tasks.runner import Remote
from tasks.sandbox import host_keys as sandbox_host_keys
from tasks.sandbox.droplet import KNOWN_HOSTS
from tasks.steps.ship import STAGE_DIR, ShipResult, ship
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e

DROPLET = "dtma-shiptest-e2e"
APP = "dtma-shiptest-app"
BLOB_BYTES = 4 * 1024 * 1024  # incompressible, so the full archive is at least this big
HOST_KEYS = sandbox_host_keys.check(KNOWN_HOSTS)


def build(client: docker.DockerClient, tag: str, dockerfile: str, app_text: str) -> str:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in (("Dockerfile", dockerfile), ("app.txt", app_text)):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    context.seek(0)
    image, _ = client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    return image.id


def sh(conn, command: str) -> str:
    return conn.run(command, hide=True, in_stream=False).stdout.strip()


def host_image_ids(conn) -> set[str]:
    return set(sh(conn, "docker image ls -aq --no-trunc").split())


def staged_files(conn, stage_dir: str = STAGE_DIR) -> list[str]:
    return sh(conn, f"ls -A {stage_dir} 2>/dev/null || true").split()


@pytest.fixture(scope="module")
def droplet():
    sandbox.down(DROPLET)  # a fresh host: the first ship must find no layer there
    try:
        yield sandbox.up(DROPLET, ssh_port=free_port(), http_port=free_port(), quiet=True)
    finally:
        sandbox.down(DROPLET)


@pytest.fixture
def conn(droplet):
    connection = droplet.connection()
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def app(docker_client, tool_image):
    """v1: busybox + 4 MB of random bytes + app.txt; v2: v1 + a new app.txt (one small layer)."""
    stamp = uuid.uuid4().hex
    v1_file = f"FROM {tool_image}\nRUN busybox head -c {BLOB_BYTES} /dev/urandom > /blob\n"
    v1_file += "COPY app.txt /app.txt\n"
    texts = {"v1": f"v1 {stamp}\n", "v2": f"v2 {stamp}\n"}
    ids = {"v1": build(docker_client, f"{APP}:v1", v1_file, texts["v1"])}
    ids["v2"] = build(
        docker_client, f"{APP}:v2", f"FROM {APP}:v1\nCOPY app.txt /app.txt\n", texts["v2"]
    )
    yield {"ids": ids, "texts": texts, "v1": f"{APP}:v1", "v2": f"{APP}:v2"}
    for version in ("current", "v2", "v1"):
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(f"{APP}:{version}", force=True)


@pytest.fixture(scope="module")
def first_ship(droplet, app, docker_client) -> ShipResult:
    connection = droplet.connection()
    try:
        return ship(
            Remote(connection, HOST_KEYS), app["v1"], progress=False, docker_client=docker_client
        )
    finally:
        connection.close()


def test_first_ship_sends_the_whole_image(first_ship, app, conn):
    assert first_ship.full and not first_ship.fell_back
    assert first_ship.layers_sent == first_ship.layers_total == 3
    assert first_ship.bytes_sent > BLOB_BYTES
    assert first_ship.image_id in host_image_ids(conn)
    assert sh(conn, f"docker image inspect --format '{{{{.Id}}}}' {app['v1']}") == app["ids"]["v1"]
    assert (
        sh(conn, f"docker run --rm {app['v1']} busybox cat /app.txt") == app["texts"]["v1"].strip()
    )
    assert staged_files(conn) == []


def test_code_only_change_sends_only_the_new_layer(first_ship, app, conn, docker_client):
    result = ship(Remote(conn, HOST_KEYS), app["v2"], progress=False, docker_client=docker_client)
    assert (result.layers_sent, result.layers_total, result.full) == (1, 4, False)
    assert result.bytes_sent < first_ship.bytes_sent / 100
    assert result.image_id == app["ids"]["v2"]
    assert (
        sh(conn, f"docker run --rm {app['v2']} busybox cat /app.txt") == app["texts"]["v2"].strip()
    )


def test_same_image_again_sends_nothing_and_only_tags(first_ship, app, conn, docker_client):
    ship(
        Remote(conn, HOST_KEYS), app["v2"], progress=False, docker_client=docker_client
    )  # now the host holds v2
    docker_client.images.get(app["v2"]).tag(APP, "current")
    again = ship(Remote(conn, HOST_KEYS), app["v2"], progress=False, docker_client=docker_client)
    assert again.bytes_sent < 10_000
    assert (again.layers_sent, again.sha256) == (0, "")
    assert (
        sh(conn, f"docker image inspect --format '{{{{.Id}}}}' {APP}:current") == app["ids"]["v2"]
    )


def test_full_forces_every_layer(first_ship, app, conn, docker_client):
    result = ship(
        Remote(conn, HOST_KEYS), app["v1"], full=True, progress=False, docker_client=docker_client
    )
    assert result.full and result.layers_sent == result.layers_total == 3
    assert result.bytes_sent > BLOB_BYTES
    assert result.sha256 == first_ship.sha256  # same image, same archive, byte for byte


def test_stale_staged_files_go_and_other_files_stay(first_ship, app, conn, docker_client):
    sh(conn, f"mkdir -p {STAGE_DIR} && touch -d '1 hour ago' {STAGE_DIR}/ship-old.tar.gz.part")
    sh(conn, f"touch {STAGE_DIR}/notes.txt")
    ship(Remote(conn, HOST_KEYS), app["v1"], full=True, progress=False, docker_client=docker_client)
    assert staged_files(conn) == ["notes.txt"]
    sh(conn, f"rm {STAGE_DIR}/notes.txt")


def test_too_small_stage_dir_fails_before_changing_anything(first_ship, app, conn, docker_client):
    small = "/var/tmp/dtma-small"
    sh(conn, f"mkdir -p {small} && mount -t tmpfs -o size=1m,mode=700 tmpfs {small}")
    try:
        before = host_image_ids(conn)
        with pytest.raises(DeployError) as failure:
            ship(
                Remote(conn, HOST_KEYS),
                app["v1"],
                full=True,
                stage_dir=small,
                progress=False,
                docker_client=docker_client,
            )
        assert failure.value.step == "disk"
        assert f"{small} has 1.0 MB free" in str(failure.value)
        assert host_image_ids(conn) == before
        assert staged_files(conn, small) == []
    finally:
        sh(conn, f"umount {small}")


def test_cut_transfer_is_a_clear_error_and_the_next_ship_recovers(
    first_ship, app, droplet, docker_client
):
    victim = droplet.connection()
    before = host_image_ids(victim)

    def cut_at_half(sent: int, total: int) -> None:
        if sent >= total // 2 and victim.is_connected:
            victim.close()

    with pytest.raises(DeployError) as failure:
        ship(
            Remote(victim, HOST_KEYS),
            app["v1"],
            full=True,
            progress=False,
            docker_client=docker_client,
            on_progress=cut_at_half,
        )
    assert failure.value.step == "upload"
    assert "connection lost after" in str(failure.value)

    fresh = droplet.connection()
    try:
        assert host_image_ids(fresh) == before
        [leftover] = staged_files(fresh)
        assert leftover.startswith("ship-") and leftover.endswith(".part")
        result = ship(
            Remote(fresh, HOST_KEYS),
            app["v1"],
            full=True,
            progress=False,
            docker_client=docker_client,
        )
        assert result.image_id == app["ids"]["v1"]
        assert staged_files(fresh) == []
    finally:
        fresh.close()


def test_partial_archive_refused_falls_back_to_the_full_image(
    first_ship, app, conn, droplet, docker_client
):
    ship(Remote(conn, HOST_KEYS), app["v1"], progress=False, docker_client=docker_client)
    with contextlib.suppress(Exception):
        sh(conn, f"docker image rm -f {app['ids']['v2']}")
    other = droplet.connection()

    def pull_the_base_away(sent: int, total: int) -> None:
        # The plan counted on v1's layers; removing them before `docker load` makes it refuse.
        if sent == total and app["ids"]["v1"] in host_image_ids(other):
            sh(other, f"docker image rm -f {app['ids']['v1']}")

    try:
        result = ship(
            Remote(conn, HOST_KEYS),
            app["v2"],
            progress=False,
            docker_client=docker_client,
            on_progress=pull_the_base_away,
        )
    finally:
        other.close()
    assert result.fell_back and result.full
    assert result.layers_sent == result.layers_total == 4
    assert result.bytes_sent > BLOB_BYTES
    assert (
        sh(conn, f"docker run --rm {app['v2']} busybox cat /app.txt") == app["texts"]["v2"].strip()
    )


def test_unreachable_host_is_one_clear_line(app, docker_client):
    from fabric import Connection

    nobody = Connection(f"root@127.0.0.1:{free_port()}", connect_timeout=3)
    with pytest.raises(DeployError) as failure:
        ship(Remote(nobody, HOST_KEYS), app["v1"], progress=False, docker_client=docker_client)
    assert failure.value.step == "docker" and "SSH failed" in str(failure.value)
    assert "\n" not in str(failure.value)


def test_host_without_docker_is_named(first_ship, app, conn, docker_client):
    path = sh(conn, "command -v docker")
    sh(conn, f"mv {path} {path}.away")
    try:
        with pytest.raises(DeployError, match="docker is not installed"):
            ship(Remote(conn, HOST_KEYS), app["v1"], progress=False, docker_client=docker_client)
    finally:
        sh(conn, f"mv {path}.away {path}")
