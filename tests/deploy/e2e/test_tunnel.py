"""The SSH tunnel against a real sshd in a sandbox droplet: its local port is ours from the
moment it is handed out (security review row 10), bytes pass both ways, and a port the host
refuses closes that one connection only."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import pytest

from tasks import sandbox
from tasks.runner import Remote, connection
from tasks.sandbox import host_keys as sandbox_host_keys
from tasks.sandbox.droplet import KNOWN_HOSTS
from tests.support.sandboxes import sandbox_for_tests

pytestmark = pytest.mark.e2e

SSHD = 22  # what surely listens on the droplet's loopback: its own sshd
NOTHING = 9  # what surely does not


@pytest.fixture(scope="module")
def box() -> Iterator[sandbox.Sandbox]:
    yield from sandbox_for_tests("dtma-tunnel")


@pytest.fixture
def remote(box) -> Iterator[Remote]:
    keys = sandbox_host_keys.check(KNOWN_HOSTS)
    conn = connection("127.0.0.1", port=box.ssh_port, key_files=[str(box.key_path)], host_keys=keys)
    remote = Remote(conn, keys)
    try:
        yield remote
    finally:
        remote.close()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def banner(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        return conn.recv(64)


def test_the_local_port_is_held_from_the_moment_it_is_handed_out(remote):
    with remote.tunnel(SSHD) as url:
        intruder = socket.socket()
        intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        with intruder, pytest.raises(OSError) as taken:
            intruder.bind(("127.0.0.1", port_of(url)))  # at once: no moment where it is free
        assert taken.value.errno == errno.EADDRINUSE
        assert banner(port_of(url)).startswith(b"SSH-2.0-")  # and it leads to the host


def test_a_refused_port_closes_that_connection_and_the_tunnel_stays_up(remote):
    with remote.tunnel(NOTHING) as url:
        for _ in range(3):  # each is closed, none stops the next from being accepted
            assert banner(port_of(url)) == b""
    with remote.tunnel(SSHD) as url:  # the same connection: tunnels after a refused one work
        assert banner(port_of(url)).startswith(b"SSH-2.0-")
