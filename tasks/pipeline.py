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

from tasks import commands, envfile, release, survey, verify
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
    healthcheck: tuple[str, ...] = ()  # the image's HEALTHCHECK test, e.g. ("CMD-SHELL", "…")


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
            test = tuple((image.attrs["Config"].get("Healthcheck") or {}).get("Test") or ())
            _BUILT[key] = BuiltImage(ref, version, image.id, image.attrs["Size"], layers, test)
    except images.ImageBuildFailed as exc:
        raise DeployError(LOCAL, "build", str(exc), "fix the build; no host was touched") from None
    return _BUILT[key]


def check_host(conn: Any, s: DeploySettings, image_ref: str = "") -> survey.HostSurvey:
    """SSH answers, Docker answers, and the agent's ports are ours to use; one round trip,
    which also brings back what the rest of the deploy needs to know (see tasks/survey.py)."""
    host = host_label(conn)
    ports = (s.port, s.candidate_port)
    command = survey.survey_command(
        container=s.container,
        image_ref=image_ref or f"{REPOSITORY}:latest",
        env_file=s.remote_env_file,
        lock_dir=s.lock_dir,
        ports=ports,
    )
    result = run(
        conn, "preflight", command, "install Docker Engine and start it (systemctl start docker)"
    )
    found = survey.parse_survey(result.stdout, ports)
    if not found.docker_version:
        raise DeployError(
            host,
            "preflight",
            "the Docker engine does not answer",
            "start it (systemctl start docker)",
        )
    ours = {s.container, s.previous, s.candidate}
    for port, allowed in ((s.port, {s.container, s.previous}), (s.candidate_port, {s.candidate})):
        names = found.publishers.get(port, [])
        foreign = [name for name in names if name not in ours]
        if foreign:
            raise DeployError(
                host,
                "preflight",
                f"port {port} is held by container {foreign[0]}",
                f"stop it or free port {port}; nothing was changed",
            )
        if found.listeners.get(port) and not set(names) & allowed:
            raise DeployError(
                host,
                "preflight",
                f"port {port} is held by a process outside Docker",
                f"free port {port} (ss -ltnp 'sport = :{port}'); nothing was changed",
            )
    return found


def check_disk(host: str, free_bytes: int | None, need_bytes: int) -> None:
    """Refuse when the host has less than twice what is about to be sent."""
    if free_bytes is None:
        raise DeployError(
            host, "preflight", "could not read the free disk space", "check `df -Pk /` on the host"
        )
    if free_bytes < 2 * need_bytes:
        raise DeployError(
            host,
            "preflight",
            f"{free_bytes // 2**20} MiB free, need {2 * need_bytes // 2**20} MiB",
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
        installed = run(
            conn, "env", commands.shell(commands.install_file(tmp, final), commands.sha256(final))
        )
    except BaseException:
        conn.run(shlex.join(commands.remove_tree(tmp)), hide=True, warn=True)
        raise
    remote_sha = installed.stdout.split()[0]
    if remote_sha != env.sha256:
        raise DeployError(
            host_label(conn),
            "env",
            "the env file on the host differs from the one sent",
            "redeploy",
        )
    return env.sha256


def with_backend_key(c: Any, s: DeploySettings) -> DeploySettings:
    """The settings plus the key the backend sends, read from the env file (verify uses it)."""
    return s.with_backend_key(load_env(s, host_label(c)).values["BACKEND_TO_DTMA_API_KEY"])


def verify_release(
    conn: Any, s: DeploySettings, version: str, healthcheck: tuple[str, ...] = ()
) -> str:
    """The checks from the backend's side, then Docker's: stable, healthy. Returns a summary.

    `healthcheck` is the image's HEALTHCHECK test: run in the container during the stability
    window, so the verdict does not wait for Docker's first scheduled check.
    """
    agent = verify.check_agent(
        s.agent_url(host_keys(conn), conn.host),
        backend_key=s.backend_key,
        version=version,
        timeout=s.verify_timeout,
        alive=verify.running(conn, s.container),
    )
    health = verify.settle_and_health(
        conn,
        s.container,
        s.settle_seconds,
        healthcheck=healthcheck,
        health_timeout=s.health_timeout,
    )
    return f"ok: {agent.url} version {agent.version}, {agent.status}, docker health {health}"


def verify_unchanged(conn: Any, s: DeploySettings, version: str) -> str:
    """The agent was left running: check it from the backend's side (no SSH needed)."""
    try:
        agent = verify.check_agent(
            s.agent_url(host_keys(conn), conn.host),
            backend_key=s.backend_key,
            version=version,
            timeout=s.verify_timeout,
        )
    except verify.VerifyFailed as exc:
        raise DeployError(
            host_label(conn),
            "verify",
            f"{exc} (the host already runs this image and env file)",
            "rerun with --restart-anyway to restart it, or see `fab logs`",
        ) from None
    return f"ok: {agent.url} version {agent.version}, {agent.status} (already up to date)"


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
