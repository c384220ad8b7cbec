"""preflight: the env file is usable, and the host can take a deploy (before anything changes)."""

from __future__ import annotations

from dataclasses import replace

from tasks import envfile
from tasks.envfile import EnvFile
from tasks.errors import DeployError
from tasks.facts.container import read_container
from tasks.facts.survey import HostSurvey, read_survey
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps import adopt
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


def with_backend_key(s: DeploySettings, remote: Remote) -> DeploySettings:
    """The settings plus the key the backend sends (verify uses it): from the local env file,
    or with --env-from-host from the one installed on the host (read into memory only)."""
    if s.env_from_host:
        text = remote.run(["cat", s.remote_env_file], step="preflight", hint="deploy first").stdout
        env = envfile.parse(text, f"{remote.host}:{s.remote_env_file}")
    else:
        env = load_env(s, remote.host)
    return s.with_backend_key(env.values.get("BACKEND_TO_DTMA_API_KEY", ""))


def other_platform(image_platform: str, host_platform: str) -> bool:
    """The image is for another machine than the host (a variant is no other machine)."""
    if not image_platform or not host_platform:
        return False
    return image_platform.split("/")[:2] != host_platform.split("/")[:2]


def platform_hint(host_platform: str) -> str:
    return (
        f"build on a {host_platform} machine (or CI), or let the local engine build "
        f"{host_platform} (Docker Desktop does; elsewhere emulation: binfmt + qemu-user-static); "
        "nothing was changed"
    )


def check_platform(host: str, image_platform: str, host_platform: str) -> None:
    """An image for another machine fails only once started ("exec format error"): refuse it
    before the host is touched."""
    if other_platform(image_platform, host_platform):
        raise DeployError(
            host,
            "preflight",
            f"the image built here is {image_platform}, the host runs {host_platform}",
            platform_hint(host_platform),
        )


def check_host(remote: Remote, s: DeploySettings, image_ref: str = "") -> HostSurvey:
    """SSH answers, Docker answers, and the agent's ports are ours to use (or, with --adopt, held
    by a container to take over); one round trip, which also brings back what the rest of the
    deploy needs to know (facts/survey.py)."""
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
    adoptee = ""
    names = found.publishers.get(s.port, [])
    foreign = [name for name in names if name not in (s.container, s.previous, s.candidate)]
    if foreign and not s.adopt:
        facts = adopt.survey(remote, foreign[0]).describe()
        raise DeployError(
            remote.host,
            "preflight",
            f"port {s.port} is held by a container this tool did not deploy: {facts}",
            "deploy with --adopt to take it over (`fab rollback` gives it back); "
            "nothing was changed",
        )
    if foreign:
        adoptee = foreign[0]
    elif found.listeners.get(s.port) and not names and found.network_mode != "host":
        raise outside_docker(remote.host, s.port)
    if found.publishers.get(s.candidate_port):
        name = found.publishers[s.candidate_port][0]
        if name != s.candidate:
            raise DeployError(
                remote.host,
                "preflight",
                f"port {s.candidate_port} is held by container {name}",
                f"stop it or free port {s.candidate_port}; nothing was changed",
            )
    elif found.listeners.get(s.candidate_port) and not read_container(remote, s.candidate):
        raise outside_docker(remote.host, s.candidate_port)
    return replace(found, adoptee=adoptee)


def outside_docker(host: str, port: int) -> DeployError:
    return DeployError(
        host,
        "preflight",
        f"port {port} is held by a process outside Docker",
        f"free port {port} (ss -ltnp 'sport = :{port}'); nothing was changed",
    )


def env_for(
    remote: Remote, s: DeploySettings, env: EnvFile | None, adoptee: adopt.Adoptee | None
) -> EnvFile:
    """The env file the agent gets: the local one, or with --env-from-host the one the running
    (or adopted) container has. A local file whose DTMA_BEARER_TOKEN differs from the adopted
    container's would orphan the droplet in Agentopia's database: refused without
    --replace-token."""
    if s.env_from_host or env is None:
        return adopt.env_from(remote, adoptee.state.name if adoptee else s.container)
    if adoptee and not s.replace_token:
        theirs = adopt.env_from(remote, adoptee.state.name).values["DTMA_BEARER_TOKEN"]
        if theirs != env.values["DTMA_BEARER_TOKEN"]:
            raise DeployError(
                remote.host,
                "preflight",
                f"{s.env_file} has another DTMA_BEARER_TOKEN than {adoptee.state.name} runs with "
                "(Agentopia would reject the droplet's heartbeats)",
                "use --env-from-host to keep the droplet's own, or --replace-token; "
                "nothing was changed",
            )
    return env


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
