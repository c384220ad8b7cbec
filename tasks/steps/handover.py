"""handover: the candidate that passed its checks becomes the agent, and the public port never
refuses a connection on the way.

Both agents run on the host's network and open the public port with SO_REUSEPORT: the kernel
spreads new connections over both, and with net.ipv4.tcp_migrate_req=1 hands the ones still
queued on a closing listener to its sibling instead of resetting them. So:
1. promote the candidate (restart policy, then SIGUSR1: it opens the public port);
2. wait until the candidate's own process listens on the public port (checked on the host),
   which it opens only once its app is loaded: it serves there;
3. stop the old agent: SIGTERM closes its listener first, then it finishes what it accepted
   (a deploy renames it and stops it in verify, beside Docker's checks of the new one).
An old agent that cannot share the port (an earlier kind of release, or a container being
adopted) is stopped between 1 and 2: the only gap left is the new agent's bind, its app
already loaded. A Ctrl-C from 1 on is held until the switch is done (a second one cuts it);
before 1, the candidate is removed and the old agent was never touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tasks import interrupts
from tasks.commands import docker, scripts
from tasks.commands.shell import Op, chain, either, then
from tasks.errors import DeployError, VerifyFailed
from tasks.facts.container import ContainerState
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps.verify import await_listener

MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req"
NO_MIGRATION = "no-request-migration"
PROMOTED_POLICY = "unless-stopped"
SEE_BOTH = "run `fab status` to see both containers"


class Switched:
    """A handover done: `seconds` until the new agent served the public port, and the agent it
    replaced, renamed `draining` while it may still finish what it accepted (drain_later), for
    `stop_old` to stop: once, whoever calls it first (verify, or the way out of a deploy)."""

    def __init__(self, remote: Remote, seconds: float, draining: str = "") -> None:
        self.remote, self.seconds, self.draining = remote, seconds, draining

    def stop_old(self, check: bool = True) -> None:
        name, self.draining = self.draining, ""
        if name:
            self.remote.run(docker.stop_for_good(name), step="release", hint=SEE_BOTH, check=check)


@dataclass(frozen=True)
class Retire:
    """What becomes of the agent being replaced: kept stopped under `keep_as` (the rollback
    target), or removed when `keep_as` is empty."""

    old: ContainerState | None
    keep_as: str = ""

    @property
    def shares_port(self) -> bool:
        old = self.old
        return old is None or not old.running or shares_port(old)


def shares_port(state: ContainerState) -> bool:
    """An agent that opened its port with SO_REUSEPORT on the host's network."""
    return state.network_mode == "host" and state.labels.get(docker.HANDOVER_LABEL) == "reuseport"


def promote(name: str) -> list[str]:
    """Let queued connections move between listeners (per network namespace, so once per boot
    is not enough to rely on: set at every handover), then promote `name`."""
    allow_migration = either(
        ["sh", "-c", 'echo 1 > "$1"', "dtma-migrate", MIGRATE_REQ, Op("2>/dev/null")],
        ["echo", NO_MIGRATION],
    )
    return then(
        allow_migration,
        chain(docker.set_restart(name, PROMOTED_POLICY), docker.signal(name, "USR1")),
    )


def wait_serving_publicly(remote: Remote, s: DeploySettings) -> float:
    """Seconds until the candidate's own process listens on the public port (it opens it only
    once promoted and its app loaded), checked on the host in one exchange."""
    started = time.monotonic()
    await_listener(remote, s.port, s.candidate, s.verify_timeout, "release", "holds")
    return time.monotonic() - started


def finish(
    remote: Remote, s: DeploySettings, retire: Retire, stop_old: bool, drain_later: bool = False
) -> str:
    """The candidate takes the agent's name; the old agent stops (draining) and steps aside.
    `drain_later`: an old agent kept running is only renamed, and its name returned: stopping it
    waits for its drain (about a second), which Docker's checks of the new agent need not wait
    for (verify_release stops it beside them)."""
    steps: list[list[str]] = []
    old, draining = retire.old, ""
    if old is not None:
        if stop_old and old.running:
            if drain_later and retire.keep_as:
                draining = retire.keep_as
            else:
                steps.append(docker.stop_for_good(old.name))
        if retire.keep_as:
            steps += [
                docker.remove_if_present(retire.keep_as),
                docker.rename(old.name, retire.keep_as),
            ]
        else:
            steps.append(docker.remove(old.name))
    steps.append(docker.rename(s.candidate, s.container))
    remote.run(chain(*steps), step="release", hint=SEE_BOTH)
    return draining


@contextmanager
def handing_over(remote: Remote, s: DeploySettings) -> Iterator[None]:
    """Whatever stops the run from the candidate's start to its promotion (Ctrl-C, between
    any two steps): a candidate still under its candidate name and never promoted was not
    handed the port, and goes (a promoted one serves: it stays)."""
    try:
        yield
    except BaseException:
        remote.run(scripts.remove_unpromoted(s.candidate), step="release", check=False)
        raise


def hand_over(
    remote: Remote, s: DeploySettings, retire: Retire, drain_later: bool = False
) -> Switched:
    """Switch from the running agent to the checked candidate. A Ctrl-C meanwhile is held
    until the switch is done (or undone): no host is left half-way by a first Ctrl-C.
    `drain_later`: the old agent, renamed, may still be draining when this returns (see
    Switched); a Ctrl-C held meanwhile stops it before it is raised."""
    switched = Switched(remote, 0.0)
    try:
        with interrupts.held("the switch to the new agent"):
            switched = switch(remote, s, retire, drain_later)
    except BaseException:
        switched.stop_old(check=False)
        raise
    return switched


def switch(remote: Remote, s: DeploySettings, retire: Retire, drain_later: bool) -> Switched:
    """Promote, wait until the new agent listens on the public port, rename; undone (the
    candidate removed, an old agent stopped for it started again) when it does not listen."""
    old_stopped = False
    try:
        promoted = remote.run(promote(s.candidate), step="release", check=False)
        if not promoted.ok:
            raise VerifyFailed(f"could not be promoted: {promoted.last_line()}")
        if NO_MIGRATION in promoted.stdout:
            print(
                f"{remote.host}: this kernel cannot hand queued connections over "
                "(net.ipv4.tcp_migrate_req): a few may be reset during the switch",
                flush=True,
            )
        if not retire.shares_port and retire.old is not None:
            remote.run(docker.stop_for_good(retire.old.name), step="release")
            old_stopped = True
        seconds = wait_serving_publicly(remote, s)
    except (VerifyFailed, DeployError) as exc:
        undo(remote, s, retire, old_stopped)
        hint = "the previous agent serves; redeploy"
        raise DeployError(remote.host, "release", f"the new agent {exc}", hint) from None
    return Switched(remote, seconds, finish(remote, s, retire, not old_stopped, drain_later))


def undo(remote: Remote, s: DeploySettings, retire: Retire, old_stopped: bool) -> None:
    """The candidate goes (stopped first: had it taken the port, what it accepted finishes);
    an old agent stopped for the switch runs again."""
    steps = [docker.stop_for_good(s.candidate), docker.remove_if_present(s.candidate)]
    old = retire.old
    if old_stopped and old is not None:
        policy = old.restart_policy or PROMOTED_POLICY
        steps += [docker.set_restart(old.name, policy), docker.start(old.name)]
    remote.run(then(*steps), step="release", check=False)
