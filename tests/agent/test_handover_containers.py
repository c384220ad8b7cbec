"""Handover mode in real containers from the real image, on the host network, as the deploy tool
runs them: promotion by restart policy (a reboot brings the promoted release back serving, with
no signal), a candidate stays private, and of two promoted releases only the newest stays.

Every container has a unique name and a unique `dtma.group` label (other suites share this
engine) and is removed by id at the end.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import docker
import pytest

from tasks import images
from tests.agent.handover_support import refused
from tests.support.contexts import copy_context
from tests.support.ports import free_port
from tests.support.readiness import answer, wait_until

pytestmark = pytest.mark.e2e
SOCKET = "/var/run/docker.sock"


@pytest.fixture(scope="module")
def agent_image(docker_client: docker.DockerClient, tmp_path_factory) -> Iterator[str]:
    context = copy_context(tmp_path_factory.mktemp("handover-context"))
    tag = f"dtma:test-handover-{uuid.uuid4().hex[:8]}"
    base = images.resolve_base_image(None, docker_client, quiet=True)
    images.build_agent_image(context, tags=[tag], version="handover", base_image=base, quiet=True)
    yield tag
    docker_client.images.remove(tag, noprune=True)


@pytest.fixture
def containers(docker_client: docker.DockerClient) -> Iterator[list]:
    made: list = []
    yield made
    for container in made:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def run_release(client, image, made, *, port, check_port, policy, deployed_at, group):
    container = client.containers.run(
        image,
        detach=True,
        name=f"dtma-test-handover-{uuid.uuid4().hex[:8]}",
        network_mode="host",
        restart_policy={"Name": policy},
        environment={"PORT": str(port), "DTMA_CHECK_PORT": str(check_port)},
        volumes={SOCKET: {"bind": SOCKET, "mode": "rw"}},
        labels={"dtma.role": "agent", "dtma.deployed_at": deployed_at, "dtma.group": group},
    )
    made.append(container)
    return container


def logs(container) -> str:
    return container.logs().decode(errors="replace")


def healthy(url: str) -> bool:
    got = answer(f"{url}/health", timeout=10)
    return got is not None and got.status_code == 200


def healthcheck(container) -> int:
    """The image's HEALTHCHECK, run now (as `docker exec`, in the image's working directory)."""
    return container.exec_run(["/opt/venv/bin/python", "-m", "dtma.healthcheck"]).exit_code


def test_promotion_by_policy_survives_a_restart_without_any_signal(
    docker_client, agent_image, containers
):
    port, check_port, group = free_port(), free_port(), uuid.uuid4().hex
    release = run_release(
        docker_client,
        agent_image,
        containers,
        port=port,
        check_port=check_port,
        policy="no",
        deployed_at="2026-11-28T10:00:00Z",
        group=group,
    )
    wait_until(lambda: "candidate, waiting for SIGUSR1" in logs(release), "candidate verdict")
    wait_until(lambda: healthy(f"http://127.0.0.1:{check_port}"), "the check port")
    assert refused(port)
    assert healthcheck(release) == 0  # it checks the check port now

    # The deploy tool's promotion: policy first, then the signal.
    release.update(restart_policy={"Name": "always"})
    release.kill(signal="SIGUSR1")
    wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), "the public port after SIGUSR1")
    wait_until(lambda: refused(check_port), "the check port closed")
    assert healthcheck(release) == 0  # and the public port now

    release.restart()  # as a reboot: the engine starts it again, nobody signals it
    wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), "the public port after a restart")
    assert "own restart policy is 'always': promoted" in logs(release)
    wait_until(lambda: refused(check_port), "the check port closed again")
    release.reload()
    assert release.attrs["RestartCount"] == 0  # a clean stop (exit 0) and a start, no crash


def test_of_two_promoted_releases_the_older_steps_aside(docker_client, agent_image, containers):
    port, group = free_port(), uuid.uuid4().hex
    newer = run_release(
        docker_client,
        agent_image,
        containers,
        port=port,
        check_port=free_port(),
        policy="always",
        deployed_at="2026-11-28T12:00:00Z",
        group=group,
    )
    wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), "the newer release, public")
    older = run_release(
        docker_client,
        agent_image,
        containers,
        port=port,
        check_port=free_port(),
        policy="always",
        deployed_at="2026-11-28T11:00:00.5Z",
        group=group,
    )

    def exited() -> bool:
        older.reload()
        return older.status == "exited"

    wait_until(exited, "the older release exiting", deadline=60)
    attrs = older.attrs
    assert attrs["State"]["ExitCode"] == 0, logs(older)
    assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert f"newer release {newer.name}" in logs(older)
    assert "own restart policy set to 'no'" in logs(older)
    assert "listening on 0.0.0.0" not in logs(older)
    newer.reload()
    assert newer.status == "running" and newer.attrs["HostConfig"]["RestartPolicy"]["Name"] == (
        "always"
    )
    assert "promoted" in logs(newer) and "newer release" not in logs(newer)


def test_a_linked_container_reaches_the_host_network_agent_through_the_forwarder(
    docker_client, agent_image, containers
):
    """The droplet's legacy shape: `agentopia_backend --link dtma_manager:dtma` calls
    http://dtma:30000; dtma_manager is now the forwarder on the bridge, the agent is on the host."""
    port = free_port()
    agent = docker_client.containers.run(
        agent_image,
        detach=True,
        name=f"dtma-test-handover-{uuid.uuid4().hex[:8]}",
        network_mode="host",
        environment={"PORT": str(port), "DTMA_VERSION": "behind-forwarder"},
    )
    containers.append(agent)
    wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), "the host-network agent")
    forwarder = docker_client.containers.run(
        agent_image,
        ["/opt/venv/bin/python", "-m", "dtma.forwarder"],
        detach=True,
        name=f"dtma-test-handover-fwd-{uuid.uuid4().hex[:8]}",
        environment={"DTMA_FORWARD_TARGET": f"gateway:{port}"},  # the host, on the bridge
        healthcheck={"test": ["NONE"]},
    )
    containers.append(forwarder)
    wait_until(lambda: "forwarding 0.0.0.0:30000" in logs(forwarder), "the forwarder's start")
    fetch = (
        "import json, urllib.request; "
        "print(json.load(urllib.request.urlopen('http://dtma:30000/status', timeout=10))"
        "['version'])"
    )
    backend = docker_client.containers.run(
        agent_image,
        ["/opt/venv/bin/python", "-c", fetch],
        detach=True,
        name=f"dtma-test-handover-backend-{uuid.uuid4().hex[:8]}",
        links={forwarder.name: "dtma"},
        healthcheck={"test": ["NONE"]},
    )
    containers.append(backend)
    assert backend.wait(timeout=60)["StatusCode"] == 0, logs(backend)
    assert logs(backend).strip() == "behind-forwarder"
    forwarder.stop(timeout=10)
    forwarder.reload()
    assert forwarder.attrs["State"]["ExitCode"] == 0, logs(forwarder)
