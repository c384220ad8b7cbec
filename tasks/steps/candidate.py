"""candidate: the new image runs beside the running agent, on the host's loopback only, and
must pass the backend's checks through an SSH tunnel before the running agent is touched."""

from __future__ import annotations

from tasks.commands import docker
from tasks.commands.shell import chain, with_stderr
from tasks.errors import DeployError, VerifyFailed
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps.agent_checks import check_agent
from tasks.steps.verify import check_stable, running


def last_logs(remote: Remote, name: str, step: str, lines: int = 50) -> str:
    result = remote.run(with_stderr(docker.logs(name, tail=lines)), step=step, check=False)
    return result.stdout.rstrip()


def check_through_tunnel(remote: Remote, s: DeploySettings, version: str) -> None:
    """The candidate's checks through `ssh -L` to the host's loopback-only candidate port."""
    with remote.tunnel(s.candidate_port) as url:
        check_agent(
            url,
            backend_key=s.backend_key,
            version=version,
            timeout=s.verify_timeout,
            alive=running(remote, s.candidate),
        )


def check_candidate(
    remote: Remote, s: DeploySettings, image_ref: str, version: str, *, keep: bool = False
) -> None:
    """Start the new image beside the running one and check it; remove it either way.

    `keep=True` leaves a candidate that passed for the caller to remove (the release does, in
    the round trip that prepares the new agent); a failed or interrupted one is removed here.
    """
    name = s.candidate
    publish = f"127.0.0.1:{s.candidate_port}:{s.port}"
    create = docker.create(
        name, image_ref, env_file=s.remote_env_file, publish=publish, restart="no"
    )
    passed = False
    try:
        started = remote.run(
            chain(docker.remove_if_present(name), create, docker.start(name)),
            step="candidate",
            check=False,
        )
        if not started.ok:
            raise VerifyFailed(f"could not start: {started.last_line()}")
        check_through_tunnel(remote, s, version)
        check_stable(remote, name, min(s.settle_seconds, 1.0))
        passed = True
    except VerifyFailed as exc:
        logs = last_logs(remote, name, "candidate")
        print(f"--- last log lines of the candidate ({image_ref}) ---\n{logs}\n---")
        raise DeployError(
            remote.host,
            "candidate",
            str(exc),
            "the running agent was not touched; fix the image and redeploy",
        ) from None
    finally:
        # On every way out, Ctrl-C included: a candidate never outlives its check.
        if not (passed and keep):
            remote.run(docker.remove_if_present(name), step="candidate")
