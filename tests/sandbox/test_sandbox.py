"""Sandbox droplets: real sshd, real inner Docker engine, reboots, and nothing left behind."""

from __future__ import annotations

import io
import socket

import docker
import pytest

from tasks import sandbox
from tests.support.contexts import unique
from tests.support.images import busybox_rootfs_tar
from tests.support.ports import free_port
from tests.support.readiness import wait_until

pytestmark = pytest.mark.e2e


def inner(conn, command: str) -> str:
    return conn.run(command, hide=True, in_stream=False).stdout.strip()


def test_up_ssh_reboot_down_leaves_nothing_behind(docker_client: docker.DockerClient):
    name = unique()
    try:
        box = sandbox.up(name, free_port(), free_port(), quiet=True)
        assert box.key_path.is_file()
        assert sandbox.find(name) == box
        assert sandbox.up(name, box.ssh_port, box.http_port, quiet=True) == box  # idempotent
        with box.connection() as conn:
            assert inner(conn, "docker info --format '{{.ServerVersion}}'")
            assert inner(conn, "stat -c %a /root/.ssh") == "700"
            # A container with a restart policy, as the agent will have it.
            conn.put(io.BytesIO(busybox_rootfs_tar()), "/tmp/rootfs.tar")
            inner(conn, "docker import /tmp/rootfs.tar keeper:1")
            inner(conn, "docker run -d --name keeper --restart unless-stopped --stop-timeout 1 "
                        "keeper:1 /bin/sleep 100000")  # fmt: skip
        started = docker_client.containers.get(name).attrs["State"]["StartedAt"]

        assert sandbox.reboot(name) == box

        assert docker_client.containers.get(name).attrs["State"]["StartedAt"] != started
        with box.connection() as conn:
            assert inner(conn, "docker info --format '{{.ServerVersion}}'")
            keeper = "docker inspect -f '{{.State.Running}}' keeper"
            wait_until(lambda: inner(conn, keeper) == "true", "keeper back after the reboot")
    finally:
        sandbox.down(name)

    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(name)
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(sandbox.volume_name(name))
    assert not sandbox.key_dir(name).exists()
    assert sandbox.find(name) is None


def test_two_sandboxes_at_once_answer_on_their_own_ports(sandbox_factory):
    first, second = sandbox_factory(), sandbox_factory()
    assert first.name != second.name
    for box in (first, second):
        with box.connection() as conn:
            assert inner(conn, "hostname") == box.name
    listed = {box.name for box, state in sandbox.find_all() if state == "running"}
    assert {first.name, second.name} <= listed


def test_port_in_use_is_one_clear_error(docker_client):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        name = unique()
        with pytest.raises(sandbox.SandboxError, match=f"port {port} .* already in use"):
            sandbox.up(name, port, free_port(), quiet=True)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(name)
    sandbox.down(name)  # the key made before the port check goes too


def test_other_ports_for_an_existing_sandbox_is_one_clear_error(sandbox_factory):
    box = sandbox_factory()
    with pytest.raises(sandbox.SandboxError, match=r"already exists \(classic engine, ports "):
        sandbox.up(box.name, free_port(), box.http_port, quiet=True)
    with pytest.raises(sandbox.SandboxError, match=r"already exists \(classic engine"):
        sandbox.up(box.name, box.ssh_port, box.http_port, engine="containerd", quiet=True)
