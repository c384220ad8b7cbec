"""A sandbox droplet is a container that behaves like a fresh server: sshd and its own Docker
engine (docker-in-docker), reachable over real SSH on 127.0.0.1. This module knows how to make
one, find one and tell whether it answers; `tasks.sandbox` drives their lifecycle.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import fabric
from docker.models.containers import Container

from tasks import runner
from tasks.host_keys import HostKeyCheck
from tasks.rootfs import RootfsBuildFailed, ensure_rootfs_image
from tasks.sandbox import host_keys as sandbox_host_keys
from tasks.sandbox.engines import DROPLET_INIT, ENGINES

PROJECT_DIR = Path(__file__).resolve().parents[2]
STATE_DIR = PROJECT_DIR / ".sandbox"
KNOWN_HOSTS = STATE_DIR / "known_hosts"
LABEL = "dtma.sandbox"
ENGINE_VERSION = ["docker", "info", "--format", "{{.ServerVersion}}"]
BOOT_TIMEOUT = 120.0


class SandboxError(RuntimeError):
    """An expected failure with a one-line explanation of what to do."""


@dataclass(frozen=True)
class Sandbox:
    name: str
    ssh_port: int
    http_port: int
    key_path: Path
    engine: str = "classic"  # a key of ENGINES

    @property
    def host(self) -> str:
        return f"root@127.0.0.1:{self.ssh_port}"

    @property
    def agent_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def connection(self, connect_timeout: int = 10) -> fabric.Connection:
        """A key-only connection (no SSH agent, no ~/.ssh keys or configs) that accepts only
        the host key recorded for this droplet in .sandbox/known_hosts."""
        return runner.connection(
            "127.0.0.1",
            port=self.ssh_port,
            key_files=[str(self.key_path)],
            connect_timeout=connect_timeout,
            host_keys=self.host_keys,
        )

    def remote(self, connect_timeout: int = 10) -> runner.Remote:
        return runner.Remote(self.connection(connect_timeout), self.host_keys)

    @property
    def host_keys(self) -> HostKeyCheck:
        """Only the key recorded for this droplet in .sandbox/known_hosts is accepted."""
        return sandbox_host_keys.check(KNOWN_HOSTS)

    def ssh_argv(self, *command: str) -> list[str]:
        """The OpenSSH command line that logs into this sandbox (and runs `command`, if any)."""
        return [
            "ssh",
            "-i",
            str(self.key_path),
            "-p",
            str(self.ssh_port),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={KNOWN_HOSTS}",
            "-o",
            "LogLevel=ERROR",
            "root@127.0.0.1",
            *command,
        ]


def volume_name(name: str, data_dir: str = "/var/lib/docker") -> str:
    """The volume holding one engine data folder of droplet `name` (docker, containerd)."""
    return f"{name}-{data_dir.rstrip('/').rsplit('/', 1)[-1]}"


def volume_names(name: str) -> list[str]:
    """Every volume a droplet of any engine kind may have."""
    dirs = {d for engine in ENGINES.values() for d in engine.data_dirs}
    return [volume_name(name, d) for d in sorted(dirs)]


def key_dir(name: str) -> Path:
    return STATE_DIR / name


def run_argv(
    name: str, ssh_port: int, http_port: int, key_path: Path, engine: str = "classic"
) -> list[str]:
    """The `docker run` command line of a droplet (flags verified in ENVIRONMENT.md).

    The CLI, not the SDK: `systempaths=unconfined` is a CLI-side option the API does not take.
    The public key is read from the environment of the caller (`SANDBOX_AUTHORIZED_KEY`).
    """
    labels = {
        LABEL: "1",
        f"{LABEL}.name": name,
        f"{LABEL}.ssh_port": str(ssh_port),
        f"{LABEL}.http_port": str(http_port),
        f"{LABEL}.key_path": str(key_path),
        f"{LABEL}.engine": engine,
    }
    kind = ENGINES[engine]
    volumes = [arg for d in kind.data_dirs for arg in ("-v", f"{volume_name(name, d)}:{d}")]
    return [
        "docker", "run", "--detach", "--name", name, "--hostname", name,
        # `--privileged` fails on hosts whose bounding set lacks CAP_SYS_RESOURCE.
        "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
        "--security-opt", "seccomp=unconfined",
        "--security-opt", "apparmor=unconfined",
        "--security-opt", "systempaths=unconfined",
        "--device-cgroup-rule", "a *:* rwm",
        # The inner engine needs a writable cgroup tree and a non-overlay /var/lib/docker.
        "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        *volumes,
        "-p", f"127.0.0.1:{ssh_port}:22", "-p", f"127.0.0.1:{http_port}:30000",
        # So that `docker restart` is a reboot and the droplet comes back after the host's.
        "--restart", "unless-stopped",
        "--env", "SANDBOX_AUTHORIZED_KEY",
        *(arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")),
        kind.image,
    ]  # fmt: skip


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise SandboxError(f"no Docker engine answers ({exc}); run `make engine`") from None
    return client


def ensure_droplet_image(
    client: docker.DockerClient, engine: str = "classic", *, quiet: bool = False
) -> str:
    kind = ENGINES[engine]
    try:
        return ensure_rootfs_image(
            client,
            kind.image,
            packages=kind.packages,
            changes=['CMD ["/usr/local/bin/droplet-init"]', "EXPOSE 22 30000"],
            files={"/usr/local/bin/droplet-init": DROPLET_INIT, **dict(kind.files)},
            suite=kind.suite,
            quiet=quiet,
        )
    except RootfsBuildFailed as exc:
        raise SandboxError(str(exc)) from None


def ensure_key(name: str) -> tuple[Path, str]:
    """The sandbox's ed25519 key pair in .sandbox/<name>/ (git-ignored), made on first use."""
    folder = key_dir(name)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = folder / "id_ed25519"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"dtma-sandbox-{name}",
             "-f", str(key)],
            check=True,
        )  # fmt: skip
    return key, key.with_suffix(".pub").read_text().strip()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def get_container(client: docker.DockerClient, name: str) -> Container | None:
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def from_labels(container: Container) -> Sandbox:
    labels = container.labels
    return Sandbox(
        name=labels[f"{LABEL}.name"],
        ssh_port=int(labels[f"{LABEL}.ssh_port"]),
        http_port=int(labels[f"{LABEL}.http_port"]),
        key_path=Path(labels[f"{LABEL}.key_path"]),
        engine=labels.get(f"{LABEL}.engine", "classic"),
    )


def find(name: str = "sandbox") -> Sandbox | None:
    """The sandbox called `name` if its container exists (running or not), else None."""
    container = get_container(docker_client(), name)
    if container is None or LABEL not in container.labels:
        return None
    return from_labels(container)


def find_all() -> list[tuple[Sandbox, str]]:
    """Every sandbox on this engine with its container state (running, exited, ...)."""
    containers = docker_client().containers.list(all=True, filters={"label": LABEL})
    return sorted(((from_labels(c), c.status) for c in containers), key=lambda s: s[0].name)


def sshd_answers(port: int) -> bool:
    """True once sshd itself sends its banner (docker-proxy accepts connections before that)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


class NotReady(Exception):
    """The droplet does not answer yet; the message says what failed last."""


def probe(sandbox: Sandbox) -> str:
    """The inner engine's version, over SSH; raises NotReady saying what did not answer."""
    # Probing the banner first keeps paramiko from logging tracebacks while sshd boots.
    if not sshd_answers(sandbox.ssh_port):
        raise NotReady("sshd sends no banner yet")
    container = get_container(docker_client(), sandbox.name)
    if container is None or not sandbox_host_keys.record(KNOWN_HOSTS, container, sandbox.ssh_port):
        raise NotReady("the droplet's host key is not there yet")
    remote = sandbox.remote(connect_timeout=5)
    try:
        done = remote.run(ENGINE_VERSION, step="probe", check=False, timeout=10)
    except Exception as exc:  # a booting droplet fails in many ways: banner, auth, reset
        raise NotReady(f"SSH: {type(exc).__name__}: {exc}") from None
    finally:
        remote.close()
    if not (done.ok and done.stdout.strip()):
        raise NotReady(f"inner `docker info`: {(done.stderr or done.stdout).strip()[:160]}")
    return done.stdout.strip()


def engine_answers(sandbox: Sandbox) -> str | None:
    """The inner engine's version when SSH and `docker info` both answer, else None."""
    try:
        return probe(sandbox)
    except NotReady:
        return None


def wait_until_ready(sandbox: Sandbox, timeout: float = BOOT_TIMEOUT) -> float:
    """Poll until SSH logs in and the inner engine answers; return the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            probe(sandbox)
            return time.monotonic() - started
        except NotReady as exc:
            if time.monotonic() - started > timeout:
                raise SandboxError(
                    f"sandbox {sandbox.name} did not answer within {timeout:.0f} s ({exc}); "
                    f"see `docker logs {sandbox.name}`"
                ) from None
        time.sleep(0.5)
