"""One host's part in a fleet rollout, over its own SSH connection: the single-host deploy
(`run_deploy`, unchanged), the smoke gate after it, and the rollback (the one `fab rollback`
runs). Expected failures come back as a HostOutcome naming step and cause, never raised."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tasks import settings
from tasks.errors import DeployError, NotItsTurn
from tasks.facts.container import ContainerState
from tasks.fleet.output import HostStreams
from tasks.fleet.rollout import DEPLOYED, FAILED, NOT_STARTED, ROLLED_BACK, UP_TO_DATE, HostOutcome
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps import lock
from tasks.steps.build import BuildKey, BuiltImage
from tasks.steps.deploy import run_deploy
from tasks.steps.preflight import with_backend_key
from tasks.steps.report import DeployReport
from tasks.steps.rollback import switch_to_previous, verify_restored

SMOKE_SUITE = Path(__file__).resolve().parents[2] / "smoke_tests"
SMOKE_TIMEOUT = 300.0


def roll_back(remote: Remote, s: DeploySettings) -> tuple[ContainerState | None, str]:
    """`fab rollback` on one host: under its lock the previous release runs again, then it is
    verified. Returns the agent container now and the verify summary; DeployError otherwise."""
    s = with_backend_key(s, remote)
    with lock.held(remote, s.lock_dir, s.lock_ttl):
        restored = switch_to_previous(remote, s)
    return restored, verify_restored(remote, s, restored)


def broken_promises(remote: Remote, s: DeploySettings) -> str | None:
    """The smoke suite's default promises against the host's agent, through an SSH tunnel to
    its own loopback (the key never crosses the network in plain HTTP). None when all kept."""
    env_file = Path(s.env_file).resolve()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DTMA_SMOKE_")}
    environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # installed plugins triple the start-up
    with remote.tunnel(s.port) as url:
        argv = [sys.executable, "-m", "pytest", str(SMOKE_SUITE), "-q", "-p", "no:cacheprovider"]
        argv += ["--host", url.removeprefix("http://"), "--env-file", str(env_file)]
        try:
            done = subprocess.run(
                argv,
                cwd=env_file.parent,
                env=environ,
                capture_output=True,
                text=True,
                timeout=SMOKE_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return f"the smoke suite did not finish in {SMOKE_TIMEOUT:.0f} s"
    if done.returncode == 0:
        return None
    # The suite masks secrets in its own output; only the names of broken promises leave it.
    names = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("  broken ")]
    if names:
        return f"promise(s) broken: {', '.join(names)}"
    last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    return f"the smoke suite could not run: {last[0][:200]}"


@dataclass
class FleetHosts:
    """The real work of each host: `connect(host)` gives its Remote (one Connection each)."""

    s: DeploySettings
    connect: Callable[[str], Remote]
    streams: HostStreams
    built: dict[BuildKey, BuiltImage]
    docker_client: object | None = None  # the local engine, images saved once for all hosts
    remotes: dict[str, Remote] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remote(self, host: str) -> Remote:
        with self._lock:
            if host not in self.remotes:
                self.remotes[host] = self.connect(host)
            return self.remotes[host]

    def expire(self, host: str) -> None:
        """Past its deadline: close its connection, so the step in progress fails (the
        deploy's own cleanup reconnects, bounded by the connect timeout, and unlocks)."""
        remote = self.remotes.get(host)
        if remote is not None:
            remote.close()

    def deploy(self, host: str, gate: Callable[[], bool] | None = None) -> HostOutcome:
        """`gate`: asked before the release (a host after the canaries, tasks/fleet/gate.py)."""
        remote = self.remote(host)
        rep = DeployReport(host=remote.host)
        with self.streams.for_host(host, remote.host):
            try:
                run_deploy(
                    remote,
                    self.s,
                    rep,
                    build_cache=self.built,
                    docker_client=self.docker_client,  # type: ignore[arg-type]
                    gate=gate,
                )
            except NotItsTurn as exc:
                return HostOutcome(NOT_STARTED, detail=str(exc), report=rep.to_dict())
            except DeployError as exc:
                return HostOutcome(
                    FAILED, exc.step, exc.cause, detail=exc.hint, report=rep.to_dict()
                )
            except settings.SettingsError as exc:
                return HostOutcome(FAILED, "preflight", str(exc), report=rep.to_dict())
            switched = rep.outcome == "deployed"
            url = self.s.agent_url(remote.keys, remote.hostname)
            detail = f"{rep.version} answers at {url}"
            if self.s.smoke:
                print(f"{remote.host}: smoke", flush=True)
                broken = broken_promises(remote, self.s)
                if broken is not None:
                    return self._smoke_failed(host, remote, broken, switched, rep)
            state = DEPLOYED if switched else UP_TO_DATE
            return HostOutcome(state, switched=switched, detail=detail, report=rep.to_dict())

    def _smoke_failed(
        self, host: str, remote: Remote, broken: str, switched: bool, rep: DeployReport
    ) -> HostOutcome:
        """A broken promise fails the host; a release of this run goes back at once."""
        failed = HostOutcome(FAILED, "smoke", broken, switched=switched, report=rep.to_dict())
        if switched:
            back = self.roll_back(host)
            failed.switched = back.state != ROLLED_BACK
            failed.detail = back.detail if back.state == ROLLED_BACK else back.cause
        return failed

    def roll_back(self, host: str) -> HostOutcome:
        remote = self.remote(host)
        with self.streams.for_host(host, remote.host):
            print(f"{remote.host}: rollback", flush=True)
            try:
                restored, verified = roll_back(remote, self.s)
            except DeployError as exc:
                return HostOutcome(FAILED, exc.step, exc.cause, detail=exc.hint)
            image = restored.image_ref if restored else None
            print(f"{remote.host}: rolled back to {image}; verify {verified}", flush=True)
            return HostOutcome(ROLLED_BACK, detail=f"rolled back to {image}, verified")
