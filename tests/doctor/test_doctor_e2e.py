"""`fab doctor` against sandbox droplets in the states that made the backend's refresh fail: the
seven historical causes of DTMA-CONTRACT.md, a droplet with no agent, a healthy one, a host that
never answers SSH; and a fleet of them at once.

The droplets are shared by the module; each test puts the agent container it needs in place as
`dtma_manager` (as Agentopia's provisioning names it) and gives the droplet back as it found it.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tasks import envfile, sandbox
from tasks.images import source_version
from tasks.sandbox.agentopia import MANAGER
from tasks.sandbox.agentopia_images import load_into_droplet
from tests.support.agentopia import agentopia_for_tests, droplet_docker
from tests.support.contexts import ROOT
from tests.support.deploy import ENV_TEXT, KEY, TOKEN, deploy, fab_argv
from tests.support.ports import free_port
from tests.support.readiness import wait_until
from tests.support.sandboxes import sandbox_for_tests

pytestmark = pytest.mark.e2e

TOOL_NAME = "Context7 MCP Server-1750"
KEPT = "dtma_manager-kept"


@pytest.fixture(scope="module")
def env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("env") / "dtma.env"
    path.write_text(ENV_TEXT)
    return path


@pytest.fixture(scope="module")
def old():
    """Provisioned like Agentopia: dtma_manager is the old stand-in agent."""
    yield from agentopia_for_tests("doctor-old", old_agent="serving")


@pytest.fixture(scope="module")
def deployed(env_file) -> Iterator[sandbox.Sandbox]:
    """Our agent, deployed by `fab deploy` with env_file's keys."""
    for box in sandbox_for_tests("doctor-ours"):
        done = deploy([box], ROOT, env_file)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        yield box


@pytest.fixture(scope="module")
def bare() -> Iterator[sandbox.Sandbox]:
    """A droplet with Docker and no agent at all."""
    yield from sandbox_for_tests("doctor-bare")


@pytest.fixture
def silent_host() -> Iterator[str]:
    """An address that takes the TCP connection and never says a word (no SSH banner)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"root@127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def tokens_of(droplet) -> dict[str, str]:
    return envfile.load(droplet.env_file).values


def doctor(targets, *args: str, hosts: list[str] = (), urls: dict[str, str] | None = None):
    """`fab doctor --json` on boxes (and extra -H hosts); (exit code, JSON, stdout+stderr)."""
    boxes = [getattr(t, "sandbox", t) for t in targets]
    pairs = {box.host: box.agent_url for box in boxes} | (urls or {})
    argv = fab_argv(
        boxes,
        "doctor",
        "--json",
        "--verify-url",
        ",".join(f"{h}={u}" for h, u in pairs.items()),
        *args,
    )
    if hosts:
        at = argv.index("-H") + 1
        argv[at] = ",".join(filter(None, [argv[at], *hosts]))
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    said = done.stdout + done.stderr
    try:
        return done.returncode, json.loads(done.stdout), said
    except ValueError:
        raise AssertionError(
            f"doctor printed no JSON (exit {done.returncode}): {said[-3000:]}"
        ) from None


def only_host(document: dict) -> dict:
    assert len(document["hosts"]) == 1
    return document["hosts"][0]


def causes(host: dict, errors_only: bool = True) -> list[str]:
    return [f["cause"] for f in host["findings"] if f["error"] or not errors_only]


@contextmanager
def manager(droplet, image: str, env: dict[str, str], *command: str) -> Iterator[None]:
    """dtma_manager replaced, for the block, by a container of `image` run as Agentopia's
    provisioning runs it (--restart always, -p 30000:30000, the Docker socket, `env`); the one
    the droplet had (if any) is stopped aside meanwhile and put back after."""
    name = getattr(droplet, "name", droplet)
    had = droplet_docker(name, ["stop", MANAGER]).returncode == 0
    if had:
        assert droplet_docker(name, ["rename", MANAGER, KEPT]).returncode == 0
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    run = ["run", "-d", "--name", MANAGER, "--restart", "always", "-p", "30000:30000"]
    run += ["-v", "/var/run/docker.sock:/var/run/docker.sock", *env_args, image, *command]
    started = droplet_docker(name, run)
    try:
        assert started.returncode == 0, started.stderr[-500:]
        yield
    finally:
        droplet_docker(name, ["rm", "--force", MANAGER])
        if had:
            droplet_docker(name, ["rename", KEPT, MANAGER])
            droplet_docker(name, ["start", MANAGER])


def test_an_old_minimal_build_is_named_with_its_fix(old) -> None:
    """Cause 3: the droplet kept an old minimal build (its /status has no tool_instances)."""
    code, document, _ = doctor([old], "--env-file", str(old.env_file))
    host = only_host(document)
    assert code == 1 and not host["healthy"]
    assert causes(host) == ["old-agent"], host
    assert host["findings"][0]["fix"] == f"fab -H {old.sandbox.host} deploy --adopt --env-from-host"
    assert host["backend"]["keyed"] is True


def test_a_crash_loop_is_named_and_its_log_shows_no_token(old, tmp_path) -> None:
    """Cause 2: the agent throws at start (here printing its secrets as it goes) and
    --restart always restarts it forever: connection refused."""
    tokens = tokens_of(old)
    script = (
        'echo "config: DTMA_BEARER_TOKEN=$DTMA_BEARER_TOKEN"; '
        'echo "using $BACKEND_TO_DTMA_API_KEY"; exit 1'
    )
    with manager(old, old.old_image, tokens, "sh", "-c", script):
        wait_until(
            lambda: (
                droplet_docker(
                    old.name, ["inspect", "-f", "{{.RestartCount}}", MANAGER]
                ).stdout.strip()
                not in ("", "0")
                or None
            ),
            "dtma_manager restarted at least once",
        )
        code, document, said = doctor([old], "--env-file", str(old.env_file))
        _, _, lines = doctor([old], "--env-from-host")
    host = only_host(document)
    assert code == 1 and causes(host) == ["crash-loop"], host
    assert (
        "restarted" in host["findings"][0]["words"] and "last log:" in host["findings"][0]["words"]
    )
    for value in tokens.values():
        assert value not in said and value not in lines, "a token value reached doctor's output"
    assert "****" in said


def test_an_agent_listening_on_another_port_is_named(bare, deployed, env_file) -> None:
    """Cause 1: PORT=3030 inside while the droplet maps -p 30000:30000: nothing answers."""
    image = f"dtma:{source_version(ROOT)}"
    load_into_droplet(bare.name, image)
    env = envfile.parse(ENV_TEXT).values | {"PORT": "3030"}
    with manager(bare, image, env):
        connect = "import socket; socket.create_connection(('127.0.0.1', 3030), 1)"
        probe = ["exec", MANAGER, "python", "-c", connect]
        wait_until(
            lambda: droplet_docker(bare.name, probe).returncode == 0 or None,
            "the agent listening on 3030 inside its container",
        )
        code, document, _ = doctor([bare], "--env-file", str(env_file))
    host = only_host(document)
    assert code == 1 and causes(host) == ["wrong-port"], host
    assert "3030" in host["findings"][0]["words"]


def test_a_key_the_agent_does_not_hold_is_named(deployed, tmp_path) -> None:
    """Cause 4: the backend sends another key than the agent checks: 403 on every refresh."""
    other = tmp_path / "other.env"
    other.write_text(ENV_TEXT.replace(KEY, "key-the-backend-holds-00000000000000000"))
    code, document, said = doctor([deployed], "--env-file", str(other))
    host = only_host(document)
    assert code == 1 and causes(host) == ["backend-key"], host
    assert "403" in host["findings"][0]["words"]
    assert host["findings"][0]["fix"].startswith(f"fab -H {deployed.host} deploy --env-file ")
    assert KEY not in said and "key-the-backend-holds" not in said


def test_a_status_without_instance_ids_is_named(old) -> None:
    """Cause 5: /status lists tools without account_tool_instance_id."""
    tool = {"container_id": "0123456789ab", "instance_name_on_toolbox": "web"}
    tool |= {"status": "running", "image": "web:1", "created": 1750000000}
    body = json.dumps({"status": "healthy", "version": "0.9.1", "tool_instances": [tool]})
    with manager(
        old, old.old_image, tokens_of(old) | {"STATUS_BODY": body}, "/agentopia/old-agent", "serve"
    ):
        wait_until(lambda: answers(old.sandbox.agent_url), "the old agent answering")
        code, document, _ = doctor([old], "--env-file", str(old.env_file))
    host = only_host(document)
    assert code == 1 and causes(host) == ["status-shape"], host


def test_tools_the_agent_lost_track_of_are_named(old) -> None:
    """Cause 6: an agent that kept its tools in memory reports none after a restart while
    their containers run on: its start, stop and delete answer 404."""
    body = '{"status":"healthy","version":"0.9.2","tool_instances":[]}'
    tool = ["run", "-d", "--name", "context7-mcp-server-1750", old.old_image, "sleep", "3600"]
    assert droplet_docker(old.name, tool).returncode == 0
    try:
        with manager(
            old,
            old.old_image,
            tokens_of(old) | {"STATUS_BODY": body},
            "/agentopia/old-agent",
            "serve",
        ):
            wait_until(lambda: answers(old.sandbox.agent_url), "the old agent answering")
            code, document, _ = doctor([old], "--env-file", str(old.env_file))
    finally:
        droplet_docker(old.name, ["rm", "--force", "context7-mcp-server-1750"])
    host = only_host(document)
    assert code == 1 and causes(host) == ["tools-unreported"], host
    assert "context7-mcp-server-1750" in host["findings"][0]["words"]


def test_tool_names_docker_refused_are_named(old) -> None:
    """Cause 7: the agent hands a user's tool name to Docker as a container name."""
    body = '{"status":"healthy","version":"0.9.3","tool_instances":[]}'
    tokens = tokens_of(old)
    with manager(
        old, old.old_image, tokens | {"STATUS_BODY": body}, "/agentopia/old-agent", "serve"
    ):
        wait_until(lambda: answers(old.sandbox.agent_url), "the old agent answering")
        deploy_tool = {
            "dockerImageUrl": "mcp/context7:latest",
            "instanceNameOnToolbox": TOOL_NAME,
            "accountToolInstanceId": "ati-1",
        }
        headers = {"Authorization": f"Bearer {tokens['BACKEND_TO_DTMA_API_KEY']}"}
        refused = requests.post(
            f"{old.sandbox.agent_url}/tools", json=deploy_tool, headers=headers, timeout=10
        )
        assert refused.status_code == 500
        code, document, _ = doctor([old], "--env-file", str(old.env_file))
    host = only_host(document)
    assert code == 1 and causes(host) == ["tool-names"], host
    assert "Invalid container name" in host["findings"][0]["words"]


def test_a_healthy_agent_passes_and_its_failing_heartbeat_is_said(deployed, env_file) -> None:
    code, document, said = doctor([deployed], "--env-file", str(env_file))
    host = only_host(document)
    assert code == 0 and host["healthy"], host
    assert host["backend"]["kind"] == "ok" and host["backend"]["keyed"] is True
    # ENV_TEXT's backend URL (127.0.0.1:9) refuses every heartbeat: said, not an error.
    assert causes(host, errors_only=False) == ["heartbeat"], host
    assert TOKEN not in said and KEY not in said


def test_a_droplet_without_any_agent(bare, env_file) -> None:
    code, document, _ = doctor([bare], "--env-file", str(env_file))
    host = only_host(document)
    assert code == 1 and causes(host) == ["no-agent"], host
    # Refused on a droplet; the sandbox's own port mapping takes the connection, then drops it.
    assert host["backend"]["kind"] in ("refused", "network")
    assert host["findings"][0]["fix"] == f"fab -H {bare.host} deploy --env-file {env_file}"


def test_a_fleet_of_mixed_states_gets_a_line_each_in_one_hosts_time(
    old, deployed, bare, env_file, silent_host
) -> None:
    """Four hosts at once, one of them silent: each gets its line, and the silent one (about
    the connect timeout) does not hold up the rest."""
    dead_url = f"http://127.0.0.1:{free_port()}"
    argv_hosts = [silent_host]
    code, document, _ = doctor(
        [old, deployed, bare],
        "--env-file",
        str(env_file),
        "--connect-timeout",
        "3",
        hosts=argv_hosts,
        urls={silent_host: dead_url},
    )
    by_host = {h["host"]: h for h in document["hosts"]}
    assert code == 1
    assert causes(by_host[old.sandbox.host]) == ["old-agent"]
    assert by_host[deployed.host]["healthy"]
    assert causes(by_host[bare.host]) == ["no-agent"]
    assert causes(by_host[silent_host]) == ["unreachable"]
    assert document["failing"] == 3 and document["healthy"] == 1
    slowest = max(h["seconds"] for h in document["hosts"])
    assert 2.5 < by_host[silent_host]["seconds"] < 15
    assert document["seconds"] < 2 * slowest, document


def test_lines_name_each_host_and_the_count(deployed, bare, env_file) -> None:
    argv = fab_argv(
        [deployed, bare],
        "doctor",
        "--env-file",
        str(env_file),
        "--verify-url",
        f"{deployed.host}={deployed.agent_url},{bare.host}={bare.agent_url}",
    )
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith(deployed.host) and " healthy " in line for line in lines), (
        done.stdout
    )
    assert any(
        line.startswith(bare.host) and "FAILS" in line and "no-agent" in line for line in lines
    )
    assert any(f"fix: fab -H {bare.host} deploy" in line for line in lines)
    assert lines[-1].startswith("doctor: 2 host(s)") and "1 healthy, 1 would answer" in lines[-1]


def answers(url: str) -> bool | None:
    try:
        return requests.get(f"{url}/status", timeout=2).status_code == 200 or None
    except requests.RequestException:
        return None
