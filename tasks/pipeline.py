"""The deploy steps as plain functions; each takes what the previous one returned.

preflight (local) -> build -> preflight (host) -> ship -> env -> candidate -> release -> verify
-> report. Every expected failure is a DeployError; the task layer turns it into one line.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks import commands, envfile, release, verify
from tasks.errors import DeployError, host_keys, host_label
from tasks.settings import DeploySettings

LOCAL = "local"
REPOSITORY = "dtma"


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    version: str
    image_id: str
    size: int
    diff_ids: tuple[str, ...]


def run(
    conn: Any, step: str, command: str, hint: str = "check the host", *, hide: bool = True
) -> Any:
    """Run one remote command; a non-zero exit or a broken SSH session becomes a DeployError."""
    try:
        result = conn.run(command, hide=hide, warn=True, in_stream=False)
    except Exception as exc:  # paramiko/socket errors have no common base worth naming
        raise DeployError(
            host_label(conn), step, f"SSH failed: {exc}", "check the host is up and takes your key"
        ) from None
    if not result.ok:
        lines = (result.stderr or result.stdout).strip().splitlines() or [f"exit {result.exited}"]
        raise DeployError(host_label(conn), step, lines[-1], hint)
    return result


def load_env(s: DeploySettings, host: str) -> envfile.EnvFile:
    try:
        return envfile.load(s.env_file, s.port)
    except envfile.EnvFileError as exc:
        raise DeployError(
            host,
            "preflight",
            f"env file {s.env_file}: {exc}",
            "fix the env file; nothing was changed",
        ) from None


def source_version(s: DeploySettings) -> str:
    from tasks import images

    return images.source_version(Path(s.context).resolve())


_BUILT: dict[tuple[str, str, str, str | None], BuiltImage] = {}


def build(s: DeploySettings, quiet: bool = False) -> BuiltImage:
    """Build `dtma:<version>` (+ `dtma:latest`) once per process, whatever the number of hosts."""
    from tasks import images  # the Docker build machinery loads only when a build is needed

    context = Path(s.context).resolve()
    if not (context / s.dockerfile).is_file():
        raise DeployError(
            LOCAL, "build", f"no {s.dockerfile} in {context}", "check --context and --dockerfile"
        )
    try:
        version = images.source_version(context)
        key = (str(context), s.dockerfile, version, s.base_image)
        if key not in _BUILT:
            ref = f"{REPOSITORY}:{version}"
            image = images.build_agent_image(
                context,
                s.dockerfile,
                tags=[ref, f"{REPOSITORY}:latest"],
                version=version,
                base_image=s.base_image,
                quiet=quiet,
            )
            layers = tuple(image.attrs["RootFS"].get("Layers") or ())
            _BUILT[key] = BuiltImage(ref, version, image.id, image.attrs["Size"], layers)
    except images.ImageBuildFailed as exc:
        raise DeployError(LOCAL, "build", str(exc), "fix the build; no host was touched") from None
    return _BUILT[key]


def check_host(conn: Any, s: DeploySettings) -> None:
    """SSH answers, Docker answers, and the agent's ports are ours to use."""
    host = host_label(conn)
    result = run(
        conn,
        "preflight",
        "command -v docker >/dev/null || { echo 'no docker command on the host' >&2; exit 127; }; "
        + commands.shell(commands.docker_version()),
        "install Docker Engine and start it (systemctl start docker)",
    )
    if not result.stdout.strip():
        raise DeployError(
            host,
            "preflight",
            "the Docker engine does not answer",
            "start it (systemctl start docker)",
        )
    ours = {s.container, s.previous, s.candidate}
    for port, allowed in ((s.port, {s.container, s.previous}), (s.candidate_port, {s.candidate})):
        names = run(
            conn, "preflight", commands.shell(commands.containers_publishing(port))
        ).stdout.split()
        foreign = [name for name in names if name not in ours]
        if foreign:
            raise DeployError(
                host,
                "preflight",
                f"port {port} is held by container {foreign[0]}",
                f"stop it or free port {port}; nothing was changed",
            )
        listener = conn.run(commands.shell(commands.listening_on(port)), hide=True, warn=True)
        if listener.ok and listener.stdout.strip() and not set(names) & allowed:
            raise DeployError(
                host,
                "preflight",
                f"port {port} is held by a process outside Docker",
                f"free port {port} (ss -ltnp 'sport = :{port}'); nothing was changed",
            )


def check_disk(conn: Any, s: DeploySettings, need_bytes: int) -> None:
    out = run(
        conn,
        "preflight",
        commands.shell(commands.disk_free_kib("/var/lib/docker"))
        + " || "
        + commands.shell(commands.disk_free_kib("/")),
    )
    free = int(out.stdout.strip().splitlines()[-1].split()[3]) * 1024
    if free < 2 * need_bytes:
        raise DeployError(
            host_label(conn),
            "preflight",
            f"{free // 2**20} MiB free, need {2 * need_bytes // 2**20} MiB",
            "free disk space on the host (docker image prune)",
        )


def install_env(conn: Any, s: DeploySettings, env: envfile.EnvFile) -> str:
    """Put the env file in place atomically, 0600 root, values only ever through SFTP."""
    final = s.remote_env_file
    folder = final.rsplit("/", 1)[0]
    tmp = f"{final}.tmp-{secrets.token_hex(4)}"
    run(
        conn,
        "env",
        commands.shell(commands.make_private_dir(folder))
        + " && "
        + commands.create_private_file(tmp),
    )
    try:
        with conn.sftp().open(tmp, "w") as handle:
            handle.write(env.render())
        run(conn, "env", commands.shell(commands.install_file(tmp, final)))
    except BaseException:
        conn.run(shlex.join(commands.remove_tree(tmp)), hide=True, warn=True)
        raise
    remote_sha = run(conn, "env", commands.shell(commands.sha256(final))).stdout.split()[0]
    if remote_sha != env.sha256:
        raise DeployError(
            host_label(conn),
            "env",
            "the env file on the host differs from the one sent",
            "redeploy",
        )
    return env.sha256


def verify_release(conn: Any, s: DeploySettings, version: str) -> str:
    """The checks from the backend's side, then Docker's: stable, healthy. Returns a summary."""
    agent = verify.check_agent(
        s.agent_url(host_keys(conn), conn.host),
        backend_key=s.backend_key,
        version=version,
        timeout=s.verify_timeout,
        alive=verify.running(conn, s.container),
    )
    verify.check_stable(conn, s.container, s.settle_seconds)
    health = verify.wait_docker_health(conn, s.container, s.health_timeout)
    return f"ok: {agent.url} version {agent.version}, {agent.status}, docker health {health}"


def roll_back_after(
    conn: Any, s: DeploySettings, failure: verify.VerifyFailed, version: str
) -> DeployError:
    """Verify failed: show the failed agent's logs, bring the previous one back, say so."""
    host = host_label(conn)
    logs = release.last_logs(conn, s.container)
    print(f"--- last log lines of the failed agent ({version}) ---\n{logs}\n---")
    if not release.rollback(conn, s):
        return DeployError(
            host,
            "verify",
            str(failure),
            f"first deploy, nothing to roll back to: {s.container} left stopped for inspection",
        )
    try:
        previous = verify.container_state(conn, s.container) or {}
        old_version = previous.get("Config", {}).get("Labels", {}).get("dtma.version", "")
        if old_version:
            verify.check_agent(
                s.agent_url(host_keys(conn), conn.host),
                backend_key=s.backend_key,
                version=old_version,
                timeout=s.verify_timeout,
            )
        verify.check_stable(conn, s.container, s.settle_seconds)
    except verify.VerifyFailed as exc:
        return DeployError(
            host,
            "verify",
            f"{failure}; the rollback did not verify either: {exc}",
            "inspect the host",
        )
    return DeployError(
        host, "verify", str(failure), f"rolled back to {previous.get('Config', {}).get('Image')}"
    )
