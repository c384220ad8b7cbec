"""preflight: the env file is usable, and the host can take a deploy (before anything changes)."""

from __future__ import annotations

from tasks import envfile
from tasks.errors import DeployError
from tasks.facts.survey import HostSurvey, read_survey
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.units import human_bytes

REPOSITORY = "dtma"  # the agent's images on every host: dtma:<version>, dtma:latest


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


def with_backend_key(s: DeploySettings, host: str) -> DeploySettings:
    """The settings plus the key the backend sends, read from the env file (verify uses it)."""
    return s.with_backend_key(load_env(s, host).values["BACKEND_TO_DTMA_API_KEY"])


def check_host(remote: Remote, s: DeploySettings, image_ref: str = "") -> HostSurvey:
    """SSH answers, Docker answers, and the agent's ports are ours to use; one round trip,
    which also brings back what the rest of the deploy needs to know (facts/survey.py)."""
    ports = (s.port, s.candidate_port)
    found = read_survey(
        remote,
        container=s.container,
        image_ref=image_ref or f"{REPOSITORY}:latest",
        env_file=s.remote_env_file,
        lock_dir=s.lock_dir,
        ports=ports,
    )
    if not found.docker_version:
        raise DeployError(
            remote.host,
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
                remote.host,
                "preflight",
                f"port {port} is held by container {foreign[0]}",
                f"stop it or free port {port}; nothing was changed",
            )
        if found.listeners.get(port) and not set(names) & allowed:
            raise DeployError(
                remote.host,
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
            f"{human_bytes(free_bytes)} free, need {human_bytes(2 * need_bytes)}",
            "free disk space on the host (docker image prune)",
        )
