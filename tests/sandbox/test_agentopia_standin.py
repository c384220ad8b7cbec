"""A sandbox droplet provisioned like Agentopia: the stand-in old agent answers on the droplet's
port 30000, the backend reaches it through its link, the crash-loop variant restarts forever,
and `fab sandbox.down` leaves nothing. Two real droplets: one from the fixture, one from `fab`.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest
import requests

from tasks import envfile, sandbox
from tasks.sandbox import agentopia
from tasks.sandbox.agentopia import BACKEND, MANAGER
from tests.support.agentopia import (
    backend_process_env,
    backend_reaches_agent,
    container_env,
    droplet_docker,
    dtma_manager_facts,
    mismatched_env,
)
from tests.support.ports import free_port
from tests.support.readiness import wait_until, wait_until_healthy

pytestmark = pytest.mark.e2e

FAB = str(Path(sys.executable).parent / "fab")
ROOT = Path(__file__).resolve().parents[2]
OLD_ANSWER = {"status": "ok", "version": "agentopia-old"}
# Binds 30000 with SO_REUSEPORT in dtma_manager's network namespace: refused while a socket
# without it listens there (the real old agent's, and so the stand-in's).
REUSEPORT_BIND = (
    "import socket; s = socket.socket(); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1); s.bind(('0.0.0.0', 30000))"
)


def test_old_agent_answers_on_the_droplets_port_30000(agentopia_droplet):
    url = agentopia_droplet.sandbox.agent_url  # 127.0.0.1:<http_port> -> droplet:30000
    wait_until_healthy(url, path="/status")
    for path in ("/status", "/health"):
        response = requests.get(f"{url}{path}", timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == OLD_ANSWER
    assert requests.get(f"{url}/tools", timeout=10).status_code == 404


def test_backend_reaches_the_old_agent_through_its_link(agentopia_droplet):
    assert backend_reaches_agent(agentopia_droplet) == '{"status":"ok","version":"agentopia-old"}'
    env = container_env(agentopia_droplet, BACKEND)
    assert env["DTMA_URL"] == "http://dtma:30000"


def test_dtma_manager_is_as_agentopia_makes_it(agentopia_droplet):
    facts = dtma_manager_facts(agentopia_droplet)
    assert facts.image == agentopia_droplet.old_image
    assert facts.image.startswith("agentopia-standin-old:serving-")
    assert facts.restart_policy == "always"
    assert facts.state == "running"
    assert [(link.container, link.alias) for link in facts.linked_from] == [(BACKEND, "dtma")]
    info = droplet_docker(
        agentopia_droplet,
        ["inspect", "-f", "{{json .HostConfig.PortBindings}} {{json .HostConfig.Binds}} "
         "{{json .HostConfig.LogConfig}}", MANAGER],
    ).stdout  # fmt: skip
    assert '"30000/tcp":[{"HostIp":"","HostPort":"30000"}]' in info
    assert '"/var/run/docker.sock:/var/run/docker.sock"' in info
    assert '"max-file":"3","max-size":"10m"' in info


def test_the_token_file_holds_what_the_old_container_was_given(agentopia_droplet):
    path = agentopia_droplet.env_file
    assert path == sandbox.key_dir(agentopia_droplet.name) / "agentopia.env"
    assert path.stat().st_mode & 0o777 == 0o600
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(path)])
    assert ignored.returncode == 0, "the token file must be git-ignored"
    parsed = envfile.load(path)  # the format `fab deploy --env-file` reads
    tokens = agentopia_droplet.tokens()
    assert sorted(parsed.values) == sorted(agentopia.TOKEN_NAMES)
    assert not mismatched_env(parsed.values, tokens)
    assert not mismatched_env(container_env(agentopia_droplet, MANAGER), tokens)
    backend_key = {"BACKEND_TO_DTMA_API_KEY": tokens["BACKEND_TO_DTMA_API_KEY"]}
    assert not mismatched_env(container_env(agentopia_droplet, BACKEND), backend_key)
    # The link hands the target's variables to the backend as DTMA_ENV_* (frozen at its start).
    seen_through_link = {f"DTMA_ENV_{key}": value for key, value in tokens.items()}
    assert not mismatched_env(backend_process_env(agentopia_droplet), seen_through_link)


def test_old_agent_listens_without_so_reuseport(agentopia_droplet):
    wait_until_healthy(agentopia_droplet.sandbox.agent_url)
    pid = droplet_docker(agentopia_droplet, ["inspect", "-f", "{{.State.Pid}}", MANAGER])
    bind = subprocess.run(
        ["docker", "exec", agentopia_droplet.name, "nsenter", "-t", pid.stdout.strip(), "-n",
         "python3", "-c", REUSEPORT_BIND],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bind.returncode != 0
    assert "Address already in use" in bind.stderr


def test_fab_up_agentopia_crashloop_restarts_forever_and_down_leaves_nothing(
    docker_client: docker.DockerClient,
):
    name = f"standin-{uuid.uuid4().hex[:6]}"
    ssh_port, http_port = free_port(), free_port()
    try:
        up = subprocess.run(
            [FAB, "sandbox.up", "--agentopia", "--old-agent", "crashloop", "--name", name,
             "--ssh-port", str(ssh_port), "--http-port", str(http_port)],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert up.returncode == 0, up.stderr[-2000:]
        assert "provisioned like Agentopia" in up.stdout
        tokens = agentopia.env_file_path(name)
        for key, value in agentopia.read_tokens(tokens).items():
            assert value not in up.stdout + up.stderr, f"{key} was printed"

        first = wait_until(
            lambda: (f := dtma_manager_facts(name)).restart_count >= 2 and f,
            "dtma_manager restarting",
        )
        assert first.image.startswith("agentopia-standin-old:crashloop-")
        assert first.restart_policy == "always"
        wait_until(
            lambda: dtma_manager_facts(name).restart_count > first.restart_count,
            "dtma_manager restarted once more",
            poll=0.5,
        )
        backend = droplet_docker(name, ["inspect", "-f", "{{.State.Status}}", BACKEND])
        assert backend.stdout.strip() == "running"

        down = subprocess.run(
            [FAB, "sandbox.down", "--name", name], capture_output=True, text=True, check=False
        )
        assert down.returncode == 0, down.stderr[-2000:]
    finally:
        sandbox.down(name)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(name)
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(sandbox.volume_name(name))
    assert not sandbox.key_dir(name).exists()
    assert not tokens.exists()
