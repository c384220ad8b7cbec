"""The agent image: it serves and turns healthy, code changes stay in the last layer, and no
secret from the build context reaches the image."""

from __future__ import annotations

import json
import secrets
import subprocess
import tarfile
import uuid
from pathlib import Path

import docker
import pytest

from tasks import images
from tests.support.contexts import copy_context
from tests.support.ports import free_port
from tests.support.readiness import NotReady, answer, wait_until

pytestmark = pytest.mark.e2e


def wait_for(check, what: str):
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    try:
        return wait_until(lambda: check() or None, what)
    except NotReady as exc:
        pytest.fail(str(exc), pytrace=False)


def get_json(url: str) -> dict | None:
    response = answer(url)
    return response.json() if response is not None and response.status_code == 200 else None


@pytest.fixture(scope="module")
def agent_container(docker_client: docker.DockerClient, agent_image: str):
    """The agent from the image, with no environment at all, on a free loopback port."""
    port = free_port()
    container = docker_client.containers.run(
        agent_image,
        detach=True,
        name=f"dtma-sbx-agent-{uuid.uuid4().hex[:8]}",
        ports={"30000/tcp": ("127.0.0.1", port)},
    )
    yield container, f"http://127.0.0.1:{port}"
    container.remove(force=True)


def test_agent_answers_health_and_status_without_any_environment(agent_container):
    _, url = agent_container
    assert wait_for(lambda: get_json(f"{url}/health"), "/health answering 200") == {"status": "ok"}
    status = get_json(f"{url}/status")
    assert status is not None
    assert status["service"] == "DTMA"
    assert status["version"] == "test"  # DTMA_VERSION from the build reaches the agent
    assert status["status"] == "misconfigured"  # no env given: it says so instead of crashing


def test_container_turns_healthy_by_its_own_healthcheck(agent_container):
    container, _ = agent_container

    def health() -> str | None:
        container.reload()
        state = container.attrs["State"]["Health"]["Status"]
        assert state != "unhealthy", container.attrs["State"]["Health"]["Log"][-1:]
        return state == "healthy"

    wait_for(health, "Docker health status 'healthy'")


def test_image_carries_version_labels_and_runs_as_documented(docker_client, agent_image):
    config = docker_client.images.get(agent_image).attrs["Config"]
    assert config["Labels"]["org.opencontainers.image.version"] == "test"
    assert config["Labels"]["org.opencontainers.image.created"] != "unknown"
    assert "PORT=30000" in config["Env"]
    assert "30000/tcp" in config["ExposedPorts"]
    assert config["Cmd"] == ["/opt/venv/bin/python", "-m", "dtma"]


TOKEN = "dtma-test-token-" + secrets.token_hex(16)
CODE_MARKER = f"# changed {uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def changed_image(docker_client, agent_base_image, tmp_path_factory):
    """Built from a copy of the context with one line added to the agent's code, and env files
    holding a token value next to the Dockerfile and inside the agent's folder."""
    context = copy_context(tmp_path_factory.mktemp("changed-context"))
    with (context / "dtma" / "__init__.py").open("a") as code:
        code.write(f"{CODE_MARKER}\n")
    for env_file in (".env", ".env.production", "dtma/.env"):
        (context / env_file).write_text(f"DTMA_BEARER_TOKEN={TOKEN}\n")
    tag = f"dtma:test-{uuid.uuid4().hex[:8]}"
    images.build_agent_image(
        context, tags=[tag], version="test-changed", base_image=agent_base_image, quiet=True
    )
    yield tag
    docker_client.images.remove(tag, noprune=True)


def test_code_only_change_rebuilds_only_the_last_layer(docker_client, agent_image, changed_image):
    before = docker_client.images.get(agent_image).attrs["RootFS"]["Layers"]
    after = docker_client.images.get(changed_image).attrs["RootFS"]["Layers"]
    assert len(after) == len(before)
    assert after[:-1] == before[:-1]
    assert after[-1] != before[-1]


def test_no_token_in_history_or_config(changed_image):
    history = subprocess.run(
        ["docker", "history", "--no-trunc", changed_image], capture_output=True, text=True
    )
    inspect = subprocess.run(["docker", "inspect", changed_image], capture_output=True, text=True)
    assert history.returncode == 0 and inspect.returncode == 0
    assert json.loads(inspect.stdout)[0]["Config"]["Labels"]  # the inspect output is real
    assert TOKEN not in history.stdout
    assert TOKEN not in inspect.stdout


def test_no_token_in_any_layer(docker_client, changed_image, tmp_path: Path):
    archive = tmp_path / "image.tar"
    with archive.open("wb") as out:
        for chunk in docker_client.images.get(changed_image).save(named=True):
            out.write(chunk)
    found: dict[str, list[str]] = {"token": [], "marker": []}
    with tarfile.open(archive) as saved:
        for member in filter(tarfile.TarInfo.isfile, saved.getmembers()):
            for what, needle in (("token", TOKEN), ("marker", CODE_MARKER)):
                if contains(saved.extractfile(member), needle.encode()):
                    found[what].append(member.name)
    # The search does see file contents: the line added to the code is in the last layer.
    assert found["marker"], "the code marker was not found: the layer search is broken"
    assert found["token"] == []


def contains(stream, needle: bytes, chunk_size: int = 1 << 20) -> bool:
    """Search a stream in chunks, overlapping so a needle across a boundary is still found."""
    tail = b""
    while chunk := stream.read(chunk_size):
        if needle in tail + chunk:
            return True
        tail = chunk[-len(needle) :]
    return False


def test_a_failing_build_names_the_step_and_its_output(agent_base_image, tmp_path: Path):
    context = copy_context(tmp_path)
    dockerfile = context / "Dockerfile"
    broken = "RUN python3 -c 'print(\"no such module\"); import dtma_missing'"
    dockerfile.write_text(dockerfile.read_text().replace("WORKDIR /app", f"{broken}\nWORKDIR /app"))
    with pytest.raises(images.ImageBuildFailed) as failed:
        images.build_agent_image(
            context, tags=[f"dtma:test-{uuid.uuid4().hex[:8]}"], version="broken",
            base_image=agent_base_image, quiet=True,
        )  # fmt: skip
    message = str(failed.value)
    assert "import dtma_missing" in message  # the step
    assert "no such module" in message  # its output
    assert "non-zero code: 1" in message
