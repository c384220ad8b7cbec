"""rollback: the previous release runs again, after a failed verify or when asked."""

from __future__ import annotations

from tasks.commands import docker
from tasks.commands.shell import chain
from tasks.errors import DeployError, VerifyFailed
from tasks.facts.container import ContainerState, read_container
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps.agent_checks import check_agent
from tasks.steps.candidate import last_logs
from tasks.steps.verify import check_stable, verify_release


def restore_previous(remote: Remote, s: DeploySettings) -> bool:
    """Remove the failed new agent and bring the previous one back; False when there is none
    (a first deploy: the failed agent is stopped and left for inspection)."""
    if read_container(remote, s.previous, step="rollback") is None:
        remote.run(docker.stop(s.container), step="rollback", check=False)
        return False
    back = [docker.rename(s.previous, s.container), docker.start(s.container)]
    remote.run(chain(docker.remove_if_present(s.container), *back), step="rollback")
    return True


def roll_back_after(
    remote: Remote, s: DeploySettings, failure: VerifyFailed, version: str
) -> DeployError:
    """Verify failed: show the failed agent's logs, bring the previous one back, say so."""
    logs = last_logs(remote, s.container, "rollback")
    print(f"--- last log lines of the failed agent ({version}) ---\n{logs}\n---")
    if not restore_previous(remote, s):
        return DeployError(
            remote.host,
            "verify",
            str(failure),
            f"first deploy, nothing to roll back to: {s.container} left stopped for inspection",
        )
    previous = read_container(remote, s.container, step="rollback")
    try:
        if previous and previous.version:
            check_agent(
                s.agent_url(remote.keys, remote.hostname),
                backend_key=s.backend_key,
                version=previous.version,
                timeout=s.verify_timeout,
            )
        check_stable(remote, s.container, s.settle_seconds)
    except VerifyFailed as exc:
        return DeployError(
            remote.host,
            "verify",
            f"{failure}; the rollback did not verify either: {exc}",
            "inspect the host",
        )
    image = previous.image_ref if previous else None
    return DeployError(remote.host, "verify", str(failure), f"rolled back to {image}")


def switch_to_previous(remote: Remote, s: DeploySettings) -> ContainerState | None:
    """The previous release runs again, the current one becomes the previous.
    Returns the agent container as it now is."""
    if read_container(remote, s.previous, step="rollback") is None:
        cause = f"no {s.previous} container"
        raise DeployError(remote.host, "rollback", cause, "nothing to roll back to")
    aside = f"{s.container}-rollback"
    steps = [
        docker.rename(s.container, aside),
        docker.rename(s.previous, s.container),
        docker.stop(aside),
        docker.start(s.container),
        docker.rename(aside, s.previous),
    ]
    remote.run(chain(docker.remove_if_present(aside), *steps), step="rollback")
    return read_container(remote, s.container, step="rollback")


def verify_restored(remote: Remote, s: DeploySettings, restored: ContainerState | None) -> str:
    """The agent `fab rollback` brought back answers, whatever version it is."""
    version = restored.version if restored else ""
    try:
        return verify_release(remote, s, version)
    except VerifyFailed as exc:
        raise DeployError(
            remote.host, "rollback", str(exc), "see `fab logs`; `fab rollback` again undoes it"
        ) from None
