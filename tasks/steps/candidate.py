"""candidate: the new image runs beside the running agent, answering on the host's loopback only
(its check port), and must pass the backend's checks through an SSH tunnel before the running
agent is touched. The candidate that passes is the release (steps/handover.py promotes it)."""

from __future__ import annotations

from dtma.contract import INSTANCE_HEADER
from tasks.commands import docker
from tasks.commands.shell import chain, with_stderr
from tasks.errors import DeployError, VerifyFailed
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps.agent_checks import check_agent
from tasks.steps.verify import await_listener, check_stable, running


def last_logs(remote: Remote, name: str, step: str, lines: int = 50) -> str:
    result = remote.run(with_stderr(docker.logs(name, tail=lines)), step=step, check=False)
    return result.stdout.rstrip()


def check_through_tunnel(remote: Remote, s: DeploySettings, version: str) -> str:
    """The candidate's checks through `ssh -L` to the host's loopback-only check port; returns
    the instance id it answers with."""
    await_listener(remote, s.candidate_port, s.candidate, s.verify_timeout, "candidate", "owned")
    with remote.tunnel(s.candidate_port) as url:
        instance = check_agent(
            url,
            backend_key=s.backend_key,
            version=version,
            timeout=s.verify_timeout,
            alive=running(remote, s.candidate),
            port=s.port,
        ).instance
    if not instance:
        raise VerifyFailed(f"answers without the {INSTANCE_HEADER} header: too old to hand over")
    return instance


def check_candidate(
    remote: Remote, s: DeploySettings, image_ref: str, version: str, labels: dict[str, str]
) -> str:
    """Start the new image beside the running one and check it. Returns its instance id.

    A candidate that passed is left running for the handover; a failed or interrupted one is
    removed here, having served nothing outside.
    """
    name = s.candidate
    create = docker.create_agent(
        name, image_ref, env_file=s.remote_env_file, check_port=s.candidate_port, labels=labels
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
        instance = check_through_tunnel(remote, s, version)
        # Proves it did not restart or exit meanwhile: the one that answered is the one kept.
        check_stable(remote, name, 0)
        passed = True
        return instance
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
        if not passed:
            remote.run(docker.remove_if_present(name), step="candidate")
