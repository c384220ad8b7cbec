"""Check 5 over real SSH: a sandbox droplet (sshd + its own Docker engine) runs two containers,
one started the way the agent must be, one not; the suite inspects them with `--ssh`."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator

import docker
import pytest

from tasks import sandbox
from tasks.sandbox.droplet import KNOWN_HOSTS
from tests.smoke.conftest import KEY, SmokeRun, free_port

pytestmark = pytest.mark.e2e

RunSmoke = Callable[..., SmokeRun]


def on_droplet(droplet: sandbox.Sandbox, *command: str, stdin: bytes | None = None) -> None:
    done = subprocess.run(droplet.ssh_argv(*command), input=stdin, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def droplet(docker_client: docker.DockerClient, tool_image: str) -> Iterator[sandbox.Sandbox]:
    name = f"dtma-sbx-smoke-{uuid.uuid4().hex[:8]}"
    try:
        made = sandbox.up(name, free_port(), free_port(), quiet=True)
        archive = b"".join(docker_client.images.get(tool_image).save(named=True))
        on_droplet(made, "docker", "load", stdin=archive)
        on_droplet(
            made, "docker", "run", "-d", "--name", "dtma", "--restart", "unless-stopped",
            "-v", "/var/run/docker.sock:/var/run/docker.sock", "-p", "30000:30000", tool_image,
        )  # fmt: skip
        on_droplet(made, "docker", "run", "-d", "--name", "bare", tool_image)
        yield made
    finally:
        sandbox.down(name)


def inspect_over_ssh(
    run_smoke: RunSmoke, droplet: sandbox.Sandbox, *args: str, **env: str
) -> SmokeRun:
    return run_smoke(
        "--host",
        f"127.0.0.1:{droplet.http_port}",
        "--api-key",
        KEY,
        "--ssh",
        f"root@127.0.0.1:{droplet.ssh_port}",
        "--ssh-key",
        str(droplet.key_path),
        "-k",
        "restart",
        *args,
        **env,
    )


def with_known_hosts(*args: str) -> tuple[str, ...]:
    return ("--known-hosts", str(KNOWN_HOSTS), *args)


def test_a_container_run_like_the_agent_keeps_the_promise(
    run_smoke: RunSmoke, droplet: sandbox.Sandbox
) -> None:
    run = inspect_over_ssh(run_smoke, droplet, *with_known_hosts())
    assert run.returncode == 0, run.output
    assert run.line_of("restart-policy").split()[0] == "kept", run.output


def test_a_container_without_policy_socket_or_port_breaks_it(
    run_smoke: RunSmoke, droplet: sandbox.Sandbox
) -> None:
    run = inspect_over_ssh(run_smoke, droplet, *with_known_hosts("--container", "bare"))
    assert run.returncode == 1, run.output
    for cause in (
        "restart policy is 'no'",
        "/var/run/docker.sock is not mounted",
        "port 30000 is not published",
    ):
        assert cause in run.output, run.output


def test_a_missing_container_says_to_check_its_name(
    run_smoke: RunSmoke, droplet: sandbox.Sandbox
) -> None:
    run = inspect_over_ssh(run_smoke, droplet, *with_known_hosts("--container", "no-such-agent"))
    assert run.returncode == 1, run.output
    assert "is the agent's container named 'no-such-agent'? (--container)" in run.output


def test_an_unknown_host_key_is_refused_before_anything_is_sent(
    run_smoke: RunSmoke, droplet: sandbox.Sandbox, tmp_path
) -> None:
    empty = tmp_path / "known_hosts"
    run = inspect_over_ssh(run_smoke, droplet, "--known-hosts", str(empty), HOME=str(tmp_path))
    assert run.returncode == 1, run.output
    assert f"unknown SSH host key for [127.0.0.1]:{droplet.ssh_port}" in run.output
    assert "--accept-new-host-key" in run.output
    assert not empty.exists()


def test_accept_new_host_key_records_it_and_then_checks_it(
    run_smoke: RunSmoke, droplet: sandbox.Sandbox, tmp_path
) -> None:
    known = tmp_path / "known_hosts"
    args = ("--known-hosts", str(known))
    run = inspect_over_ssh(run_smoke, droplet, *args, "--accept-new-host-key", HOME=str(tmp_path))
    assert run.returncode == 0, run.output
    recorded = known.read_text()
    assert recorded.startswith(f"[127.0.0.1]:{droplet.ssh_port} ssh-ed25519 ")
    assert recorded in KNOWN_HOSTS.read_text()  # the key the droplet's own files hold
    run = inspect_over_ssh(run_smoke, droplet, *args, HOME=str(tmp_path))
    assert run.returncode == 0, run.output
