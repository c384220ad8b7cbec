"""verify: the agent answers as the backend expects, and Docker sees it stable and healthy.

HTTP checks run from the deploying machine (agent_checks); container checks over SSH.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from tasks.at_once import at_once
from tasks.commands import docker, scripts
from tasks.errors import DeployError, VerifyFailed
from tasks.facts.container import SettleProbe, parse_settle_probe, read_container
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps.agent_checks import AgentReport, check_contract, check_public


def running(remote: Remote, name: str) -> Callable[[], None]:
    """A check for wait_for_health: raises VerifyFailed once the container has stopped."""

    def check() -> None:
        state = read_container(remote, name, step="verify")
        if state is None or not state.running:
            code = state.exit_code if state else None
            raise VerifyFailed(f"container {name} exited (code {code}) before answering /health")

    return check


def await_listener(
    remote: Remote, port: int, container: str, timeout: float, step: str, mode: str = ""
) -> None:
    """Until the host's port `port` listens (checked there: no request is wasted on a port not
    open yet). `mode` "owned": and only `container` listens there (before a credential goes to
    it); "holds": until `container` listens there, beside whatever else does."""
    waited = remote.run(
        scripts.wait_listening(port, container, timeout, mode), step=step, check=False
    )
    if not waited.ok:
        raise VerifyFailed(waited.last_line() or f"nothing listens on port {port}")


def settled(name: str, probe: SettleProbe, settle: float) -> None:
    """Running, and the restart count did not grow over the window: a crash loop shows here."""
    after = probe.after
    if after is None:
        raise VerifyFailed(f"container {name} does not exist")
    if not after.running or after.restarting:
        raise VerifyFailed(
            f"container {name} is not running (status {after.status}, exit {after.exit_code})"
        )
    if probe.restarts_before is None or after.restart_count != probe.restarts_before:
        raise VerifyFailed(f"container {name} restarted during {settle:.0f} s (crash loop)")


def settle_and_health(
    remote: Remote,
    name: str,
    settle: float,
    *,
    healthcheck: tuple[str, ...] = (),
    check_timeout: float = 30.0,
    health_timeout: float = 0.0,
) -> str:
    """One round trip: the stability window (RestartCount must not grow over `settle` s) with
    the image's own HEALTHCHECK test run in the container meanwhile, instead of waiting for
    Docker's schedule. Returns the health verdict; "" when no health was asked for.

    Docker's own status still counts: `unhealthy` fails, `healthy` passes. When the test run
    here fails and Docker has no verdict yet, Docker's schedule decides (up to health_timeout).
    """
    test = docker.healthcheck_exec(name, healthcheck, check_timeout) if healthcheck else None
    answer = remote.run(scripts.settle_probe(name, settle, test), step="verify", check=False)
    probe = parse_settle_probe(answer.stdout)
    settled(name, probe, settle)
    if not health_timeout:
        return ""
    assert probe.after is not None
    docker_says, ran = probe.after.health, probe.healthcheck
    if docker_says == "unhealthy":
        raise VerifyFailed(f"Docker reports container {name} unhealthy")
    if ran == "0":
        return "healthy (healthcheck run at verify)"
    if docker_says in ("healthy", "none") and ran in ("", "none"):
        return docker_says
    if docker_says == "healthy":
        return "healthy"
    return wait_docker_health(remote, name, health_timeout)


def check_stable(remote: Remote, name: str, settle: float) -> None:
    """Running, and not restarting over `settle` seconds."""
    settle_and_health(remote, name, settle)


def wait_docker_health(remote: Remote, name: str, timeout: float, poll: float = 1.0) -> str:
    """Docker's own verdict when the image has a HEALTHCHECK ("none" when it has none)."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_container(remote, name, step="verify")
        health = state.health if state else "none"
        if health in ("healthy", "none"):
            return health
        if health == "unhealthy":
            raise VerifyFailed(f"Docker reports container {name} unhealthy")
        if time.monotonic() > deadline:
            raise VerifyFailed(f"container {name} not healthy after {timeout:.0f} s ({health})")
        time.sleep(poll)


def keyed_checks(remote: Remote, s: DeploySettings, version: str) -> AgentReport:
    """Every check that presents a token: through the SSH connection, to the host's own
    127.0.0.1 (the backend key never crosses the network in plain HTTP), once only the agent
    listens there."""
    await_listener(remote, s.port, s.container, s.verify_timeout, "verify", "owned")
    with remote.tunnel(s.port) as inside:
        return check_contract(inside, s.backend_key, version)


def check_agent_as_deployed(
    remote: Remote, s: DeploySettings, version: str, alive: Callable[[], None] | None = None
) -> AgentReport:
    """The agent on its public port, from outside and without credentials (/health, the public
    /status), and beside that the keyed checks."""
    public = s.agent_url(remote.keys, remote.hostname)
    agent, _ = at_once(
        lambda: keyed_checks(remote, s, version),
        lambda: check_public(public, s.verify_timeout, alive=alive),
    )
    return replace(agent, url=public)


def verify_release(
    remote: Remote,
    s: DeploySettings,
    version: str,
    healthcheck: tuple[str, ...] = (),
    stop_old: Callable[[], None] | None = None,
) -> str:
    """The checks from the backend's side, and beside them Docker's: stable, healthy. Returns a
    summary.

    `healthcheck` is the image's HEALTHCHECK test: run in the container during the stability
    window, so the verdict does not wait for Docker's first scheduled check. `stop_old`: stops
    the agent the release replaced, still draining; called before the backend's checks (only
    the new agent must answer them), while Docker's run.
    """

    def as_the_backend() -> AgentReport:
        if stop_old is not None:
            stop_old()
        return check_agent_as_deployed(remote, s, version, alive=running(remote, s.container))

    agent, health = at_once(
        as_the_backend,
        lambda: settle_and_health(
            remote,
            s.container,
            s.settle_seconds,
            healthcheck=healthcheck,
            health_timeout=s.health_timeout,
        ),
    )
    return f"ok: {agent.url} version {agent.version}, {agent.status}, docker health {health}"


def verify_unchanged(remote: Remote, s: DeploySettings, version: str) -> str:
    """The agent was left running: check it from the backend's side (no SSH needed)."""
    try:
        agent = check_agent_as_deployed(remote, s, version)
    except VerifyFailed as exc:
        raise DeployError(
            remote.host,
            "verify",
            f"{exc} (the host already runs this image and env file)",
            "rerun with --restart-anyway to restart it, or see `fab logs`",
        ) from None
    return f"ok: {agent.url} version {agent.version}, {agent.status} (already up to date)"


def verify_running(remote: Remote, s: DeploySettings) -> str:
    """`fab verify`: the running agent, whatever version it says it is."""
    state = read_container(remote, s.container, step="verify")
    try:
        return verify_release(
            remote, s, state.version if state else "", state.healthcheck if state else ()
        )
    except VerifyFailed as exc:
        hint = "see `fab logs`; `fab rollback` brings the previous release back"
        raise DeployError(remote.host, "verify", str(exc), hint) from None
