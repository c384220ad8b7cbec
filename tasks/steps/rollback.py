"""rollback: the previous release runs again, after a failed verify or when asked."""

from __future__ import annotations

from tasks.commands import docker
from tasks.commands.shell import Argv, chain
from tasks.errors import DeployError, VerifyFailed
from tasks.facts.container import ContainerState, read_container
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps.candidate import last_logs
from tasks.steps.verify import check_agent_as_deployed, check_stable, verify_release


def recreated(s: DeploySettings, previous: ContainerState, name: str) -> Argv:
    """A container `name` for the previous release: its image and labels, but today's env
    file, so a rollback after a key rotation does not bring the rotated key back."""
    return docker.create(
        name,
        previous.image_ref or previous.image_id,
        env_file=s.remote_env_file,
        publish=f"{s.port}:{s.port}",
        labels=previous.labels,
    )


def restore_previous(remote: Remote, s: DeploySettings) -> bool:
    """Remove the failed new agent and run the previous release again (with today's env file);
    False when there is none (a first deploy: the failed agent is stopped and left for
    inspection)."""
    previous = read_container(remote, s.previous, step="rollback")
    if previous is None:
        remote.run(docker.stop(s.container), step="rollback", check=False)
        return False
    back = [
        docker.remove_if_present(s.container),
        recreated(s, previous, s.container),
        docker.remove(s.previous),
        docker.start(s.container),
    ]
    remote.run(chain(*back), step="rollback")
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
            check_agent_as_deployed(remote, s, previous.version)
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
    """The previous release runs again (with today's env file), the current one becomes the
    previous. Returns the agent container as it now is."""
    previous = read_container(remote, s.previous, step="rollback")
    if previous is None:
        cause = f"no {s.previous} container"
        raise DeployError(remote.host, "rollback", cause, "nothing to roll back to")
    aside, fresh = f"{s.container}-rollback", f"{s.container}-restored"
    prepare = [
        docker.remove_if_present(aside),
        docker.remove_if_present(fresh),
        recreated(s, previous, fresh),
    ]
    remote.run(chain(*prepare), step="rollback", hint="the running agent was not touched")
    steps = [
        docker.rename(s.container, aside),
        docker.rename(fresh, s.container),
        docker.stop(aside),
        docker.start(s.container),
        docker.remove(s.previous),
        docker.rename(aside, s.previous),
    ]
    remote.run(chain(*steps), step="rollback")
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
