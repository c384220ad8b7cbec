"""rollback: the previous release runs again, after a failed verify or when asked.

A previous release of ours runs again from its image and labels with today's env file (a
rollback after a key rotation does not bring the rotated key back), handed over like any
release. A container we adopted (steps/adopt.py) comes back exactly as it was.
"""

from __future__ import annotations

from tasks.commands import docker
from tasks.commands.shell import Argv, chain
from tasks.errors import DeployError, VerifyFailed
from tasks.facts.container import ContainerState, read_container
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps import adopt, release
from tasks.steps.agent_checks import wait_for_health
from tasks.steps.candidate import last_logs
from tasks.steps.handover import shares_port
from tasks.steps.verify import verify_release


def recreated(s: DeploySettings, previous: ContainerState, name: str) -> Argv:
    """A release of the kind that publishes the port itself (before handovers existed)."""
    return docker.create(
        name,
        previous.image_ref or previous.image_id,
        env_file=s.remote_env_file,
        publish=f"{s.port}:{s.port}",
        labels=previous.labels,
    )


def bring_back(remote: Remote, s: DeploySettings, previous: ContainerState, keep: bool) -> str:
    """`previous` serves again; the current agent is kept as the previous one, or removed.
    Returns the name of the container now serving."""
    if adopt.is_adopted(previous):
        return adopt.give_back(remote, s, previous, keep_ours=keep)
    if shares_port(previous):
        keep_as = f"{s.container}-rolled-back" if keep else ""
        # Deployed now: of two releases that would both serve after a reboot, the newer stays.
        now = release.release_labels(previous.version)["dtma.deployed_at"]
        release.replace_agent(
            remote, s, previous.image_ref or previous.image_id, previous.version,
            labels={**previous.labels, "dtma.deployed_at": now}, keep_as=keep_as,
        )  # fmt: skip
        steps = [docker.remove(s.previous)]
        if keep:
            steps.append(docker.rename(keep_as, s.previous))
        remote.run(chain(*steps), step="rollback")
    else:
        aside = f"{s.container}-rolled-back"
        steps = [
            docker.remove_if_present(aside),
            docker.stop_for_good(s.container),
            docker.rename(s.container, aside),
            recreated(s, previous, s.container),
            docker.remove(s.previous),
            docker.start(s.container),
            docker.rename(aside, s.previous) if keep else docker.remove(aside),
        ]
        remote.run(chain(*steps), step="rollback")
    return s.container


def roll_back_after(
    remote: Remote, s: DeploySettings, failure: VerifyFailed, version: str
) -> DeployError:
    """Verify failed: show the failed agent's logs, bring the previous one back, say so."""
    logs = last_logs(remote, s.container, "rollback")
    print(f"--- last log lines of the failed agent ({version}) ---\n{logs}\n---")
    previous = read_container(remote, s.previous, step="rollback")
    if previous is None:
        remote.run(docker.stop(s.container), step="rollback", check=False)
        return DeployError(
            remote.host,
            "verify",
            str(failure),
            f"first deploy, nothing to roll back to: {s.container} left stopped for inspection",
        )
    try:
        restored = read_container(remote, bring_back(remote, s, previous, keep=False), "rollback")
        verify_restored(remote, s, restored)
    except (VerifyFailed, DeployError) as exc:
        return DeployError(
            remote.host,
            "verify",
            f"{failure}; the rollback did not verify either: {exc}",
            "inspect the host",
        )
    image = previous.image_ref or previous.image_id
    return DeployError(remote.host, "verify", str(failure), f"rolled back to {image}")


def switch_to_previous(remote: Remote, s: DeploySettings) -> ContainerState | None:
    """`fab rollback`: the previous release runs again, the current one becomes the previous
    (so a second rollback undoes the first). Returns the agent container as it now is."""
    previous = read_container(remote, s.previous, step="rollback")
    if previous is None:
        cause = f"no {s.previous} container"
        raise DeployError(remote.host, "rollback", cause, "nothing to roll back to")
    return read_container(remote, bring_back(remote, s, previous, keep=True), step="rollback")


def verify_restored(remote: Remote, s: DeploySettings, restored: ContainerState | None) -> str:
    """The agent `fab rollback` brought back answers, whatever version it is."""
    try:
        if restored is None:
            raise VerifyFailed("no agent container after the rollback")
        if adopt.is_adopted(restored):
            return adopted_answers(s, remote, restored)
        return verify_release(remote, s, restored.version)
    except VerifyFailed as exc:
        raise DeployError(
            remote.host, "rollback", str(exc), "see `fab logs`; `fab rollback` again undoes it"
        ) from None


def adopted_answers(s: DeploySettings, remote: Remote, restored: ContainerState) -> str:
    """A container given back is as it was, answering or not (one that crash-looped before it
    was adopted does again): said, not a failure of the rollback."""
    url = s.agent_url(remote.keys, remote.hostname)
    what = f"{restored.image_ref}, restart {restored.restart_policy}"
    back = f"{restored.name} is back as it was ({what})"
    try:
        wait_for_health(url, min(s.verify_timeout, 15.0))
    except VerifyFailed as exc:
        return f"{back}, but it does not answer: {exc}"
    return f"ok: {back} and answers {url}/health"
