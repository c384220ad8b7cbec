"""The whole deploy of one host, step by step; each step takes what the one before returned.

preflight -> build -> check -> (already up to date: verify) | lock: plan -> ship (with
--registry: pull) -> env -> candidate -> release (handover) -> [adopt] -> verify (-> rollback);
then the report, whatever happened.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from docker import DockerClient

from tasks import interrupts
from tasks.commands import files
from tasks.envfile import EnvFile
from tasks.errors import DeployError, NotItsTurn, VerifyFailed
from tasks.facts.container import read_container
from tasks.facts.survey import HostSurvey
from tasks.layers import plan_layers
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps import adopt, lock, preflight, report
from tasks.steps.build import BuildKey, BuiltImage, build
from tasks.steps.candidate import check_candidate
from tasks.steps.env import install_env
from tasks.steps.handover import Retire, Switched, hand_over, handing_over
from tasks.steps.pull import pull, pushed_once
from tasks.steps.release import release_labels, replace_agent
from tasks.steps.rollback import roll_back_after
from tasks.steps.ship import EarlySave, reusable_chain_ids, ship
from tasks.steps.verify import verify_release, verify_unchanged

Gate = Callable[[], bool]  # True: go on; False: the fleet stopped before this host's turn


@contextmanager
def step(rep: report.DeployReport, name: str, remote: Remote) -> Iterator[None]:
    """Say which step starts (so a stuck or interrupted deploy shows where), time it, and count
    its exchanges with the host."""
    print(f"{rep.host}: {name}", flush=True)
    with rep.phase(name, lambda: remote.exchanges):
        yield


def run_deploy(
    remote: Remote,
    s: DeploySettings,
    rep: report.DeployReport,
    *,
    build_cache: dict[BuildKey, BuiltImage] | None = None,
    docker_client: DockerClient | None = None,
    gate: Gate | None = None,
) -> None:
    """Deploy to one host, filling `rep` as it goes; the report is shown and written whatever
    happens (and the host's audit log gets a line once the host was reached). `gate`: a fleet
    host after the canaries asks it before its release (or before its env file changes)."""
    touched = False
    saving: EarlySave | None = None
    try:
        with step(rep, "preflight", remote):
            env = None if s.env_from_host else preflight.load_env(s, rep.host)
            s.agent_url(remote.keys, remote.hostname)  # a --verify-url without this host fails
        if env is not None:
            s = s.with_backend_key(env.values["BACKEND_TO_DTMA_API_KEY"])
        connected = remote.open_early()  # the SSH handshake overlaps the build
        with step(rep, "build", remote):
            built = build(s, cache=build_cache)
        rep.version, rep.new_image = built.version, built.ref
        if not s.registry:  # a pull needs no archive
            saving = EarlySave(built.ref, docker_client)  # overlaps the round trips below
        with step(rep, "check", remote):
            connected("preflight")
            found = preflight.check_host(remote, s, built.ref)
            if preflight.other_platform(built.platform, found.platform):
                built = build_for_host(rep.host, s, found.platform, build_cache)
                rep.version, rep.new_image = built.version, built.ref
                found = preflight.check_host(remote, s, built.ref)  # what it holds of that one
            preflight.check_platform(rep.host, built.platform, found.platform)
            adoptee = adopt.survey(remote, found.adoptee) if found.adoptee else None
            if adoptee:
                adopt.check_relink(remote, adoptee)
                print(f"{rep.host}: adopting {adoptee.describe()}", flush=True)
            env = preflight.env_for(remote, s, env, adoptee)
        s = s.with_backend_key(env.values["BACKEND_TO_DTMA_API_KEY"])
        rep.env_sha256 = env.sha256
        rep.old_image = found.running_ref or None
        touched = True
        unchanged = found.up_to_date(built.fingerprint, env.sha256) and not found.lock_owner
        if unchanged and not s.restart_anyway and not adoptee:
            if saving:
                saving.discard()
            # Nothing to ship, nothing to restart: an outage for nothing. Check it answers.
            print(f"{rep.host}: already up to date ({built.ref}, same env file)", flush=True)
            rep.image_bytes, rep.layers_total = built.size, len(built.diff_ids)
            with step(rep, "verify", remote):
                rep.outcome = "failed (already up to date, does not verify)"
                rep.verify = verify_unchanged(remote, s, built.version)
            rep.outcome = "already up to date"
        else:
            with lock.held(remote, s.lock_dir, s.lock_ttl, s.force_unlock):
                run_locked(remote, s, rep, env, built, found, adoptee, docker_client, saving, gate)
    except Exception as exc:
        rep.error = str(exc)
        raise
    finally:
        if saving is not None:
            saving.discard()
        finish(remote, s, rep, touched)


def build_for_host(
    host: str, s: DeploySettings, platform: str, cache: dict[BuildKey, BuiltImage] | None
) -> BuiltImage:
    """The image again, for the host's platform (an arm64 laptop, an amd64 droplet)."""
    print(f"{host}: the host runs {platform}: building the image for it", flush=True)
    try:
        return build(s, cache=cache, platform=platform)
    except DeployError as exc:
        cause = f"the host runs {platform} and the local engine cannot build it: {exc.cause}"
        raise DeployError(host, "build", cause, preflight.platform_hint(platform)) from None


def run_locked(
    remote: Remote,
    s: DeploySettings,
    rep: report.DeployReport,
    env: EnvFile,
    built: BuiltImage,
    found: HostSurvey,
    adoptee: adopt.Adoptee | None = None,
    docker_client: DockerClient | None = None,
    saving: EarlySave | None = None,
    gate: Gate | None = None,
) -> None:
    """Everything that changes the host, under its deploy lock. `docker_client`: the local
    engine holding the image (default: the one the environment names); `saving`: its save,
    under way; `gate`: asked before the release, or before the env file when that changes
    (or the host is adopted)."""
    wait_early = gate is not None and (found.env_sha256 != env.sha256 or adoptee is not None)
    with step(rep, "plan", remote):
        present, missing = plan_transfer(remote, found, built)
    if s.registry:
        with step(rep, "pull", remote):
            published = pushed_once(built, s.registry)
            shipped = pull(
                remote,
                published,
                built,
                host_fingerprint=found.target_fingerprint,
                layers_missing=len(missing),
            )
        rep.pulled_from = published.reference
    else:
        with step(rep, "ship", remote):
            shipped = ship(
                remote,
                built.ref,
                stage_dir=s.stage_dir,
                full=s.full,
                present=present,
                store=found.image_store,
                host_fingerprint=found.target_fingerprint,
                saving=saving,
                docker_client=docker_client,
            )
    rep.bytes_sent, rep.image_bytes = shipped.bytes_sent, shipped.image_bytes
    rep.layers_total, rep.layers_sent = shipped.layers_total, shipped.layers_sent
    rep.full_transfer, rep.fell_back = shipped.full, shipped.fell_back
    if wait_early:
        await_turn(remote, rep, gate)
    with step(rep, "env", remote):
        install_env(remote, s, env)
    with handing_over(remote, s):  # from the candidate's start to its promotion
        with step(rep, "candidate", remote):
            rep.outcome = "refused (candidate failed, running agent untouched)"
            labels = release_labels(built.version)
            old = adoptee.state if adoptee else read_container(remote, s.container, "candidate")
            check_candidate(remote, s, built.ref, built.version, labels)
        if gate and not wait_early:
            await_turn(remote, rep, gate)
        with step(rep, "release", remote):
            rep.outcome = "failed during release"
            retire = Retire(old, keep_as=s.previous)
            switched = hand_over(remote, s, retire, drain_later=not adoptee)
            took = f"{switched.seconds:.2f} s"
            print(f"{rep.host}: the new agent took port {s.port} in {took}", flush=True)
    try:
        adopt_and_verify(remote, s, rep, built, adoptee, switched)
    finally:
        switched.stop_old(check=False)  # not stopped by verify: a Ctrl-C or an error came first


def adopt_and_verify(
    remote: Remote,
    s: DeploySettings,
    rep: report.DeployReport,
    built: BuiltImage,
    adoptee: adopt.Adoptee | None,
    switched: Switched,
) -> None:
    """After the switch: an adoption's links move to the new agent; then verify (stopping the
    old agent first), rolled back on failure."""
    if adoptee:  # the links move as one: a Ctrl-C is held until they point at the new agent
        with step(rep, "adopt", remote), interrupts.held("the adoption"):
            if adopt.install_forwarder(remote, s, adoptee, built.ref):
                print(f"{rep.host}: a fresh agent container, on the restarted engine", flush=True)
                replace_agent(remote, s, built.ref, built.version)
    try:
        with step(rep, "verify", remote):
            rep.verify = verify_release(
                remote, s, built.version, built.healthcheck, stop_old=switched.stop_old
            )
    except VerifyFailed as failure:
        rep.verify = f"failed: {failure}"
        with step(rep, "rollback", remote):
            error = roll_back_after(remote, s, failure, built.version)
        rep.outcome = "rolled back" if "rolled back" in error.hint else "failed (left stopped)"
        raise error from None
    rep.outcome = "deployed"


def await_turn(remote: Remote, rep: report.DeployReport, gate: Gate) -> None:
    """Wait for the canaries; if they did not pass, leave (the candidate goes on the way out)."""
    with step(rep, "gate", remote):
        print(f"{rep.host}: ready; waiting for the canaries to pass", flush=True)
        if not gate():
            rep.outcome = "not started (the rollout stopped before its turn; left as it was)"
            raise NotItsTurn("the rollout stopped before its turn: its candidate removed")


def plan_transfer(
    remote: Remote, found: HostSurvey, built: BuiltImage
) -> tuple[set[str], tuple[int, ...]]:
    """The layer chains the host holds, and the indexes of the image's layers it lacks; refused
    when its disk could not take them."""
    present = reusable_chain_ids(remote, found.image_store, built.ref)
    missing = plan_layers(built.diff_ids, present).missing
    # Layer sizes are known only once the image is saved; a share of the image is the
    # estimate, and the whole image when the base layer is missing (a fresh host).
    share = 1.0 if 0 in missing else len(missing) / max(1, len(built.diff_ids))
    preflight.check_disk(remote.host, found.free_bytes, int(built.size * share))
    return present, missing


def finish(remote: Remote, s: DeploySettings, rep: report.DeployReport, touched: bool) -> None:
    rep.all_exchanges = remote.exchanges + int(touched)  # the audit line below
    report.show(rep)
    path = report.write(rep, s.reports_dir)
    print(f"report: {path}")
    if touched:
        line = report.audit_line(rep, f"{getpass.getuser()}@{socket.gethostname()}")
        remote.run(files.append_line(s.audit_log, line), step="report", check=False)


def release_existing_image(remote: Remote, s: DeploySettings, image_ref: str, version: str) -> str:
    """`fab release`: an image already on the host goes through candidate, swap and verify,
    under the lock; a failed verify rolls back. Returns the verify summary."""
    with lock.held(remote, s.lock_dir, s.lock_ttl):
        replace_agent(remote, s, image_ref, version, keep_as=s.previous)
        try:
            return verify_release(remote, s, version)
        except VerifyFailed as failure:
            raise roll_back_after(remote, s, failure, version) from None
