"""`fab -H root@droplet deploy` and its steps, each also a task of its own.

Every task reads one DeploySettings (defaults <- fabric.yaml `dtma:` <- DTMA_DEPLOY_* <- flags)
and reports expected failures as one line: host, step, cause, what to do.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fabric import task

from tasks import commands, envfile, lock, pipeline, release, settings, verify
from tasks import report as reports
from tasks import ship as shipping
from tasks.commands import append_line
from tasks.errors import host_keys, host_label
from tasks.executor import one_line_errors, record_host
from tasks.layers import plan_layers
from tasks.operate import logs, plan, prune, releases, restart, rollback, status  # noqa: F401
from tasks.survey import HostSurvey

HELP = {
    "env_file": "local env file for the agent (default .env); sent as /etc/dtma/dtma.env",
    "context": "Docker build context (default: the project folder)",
    "dockerfile": "Dockerfile inside the context (default Dockerfile)",
    "base_image": "base image for the build (default: the Dockerfile's, or a local one)",
    "verify_url": "where the agent answers (default http://HOST:30000); per host: H1=URL,H2=URL",
    "verify_timeout": "seconds to wait for /health (default 60)",
    "full": "send the whole image, not only the layers the host lacks",
    "force_unlock": "break a deploy lock older than its TTL (default 15 min)",
    "restart_anyway": "release and restart the agent even when the host already runs this image "
    "with this env file (by default such a host is only verified and left running)",
}


def _settings(c: Any, **flags: Any) -> settings.DeploySettings:
    # A bool flag left at False means "not given": config and environment still apply.
    return settings.load(
        c, **{k: (v or None) if isinstance(v, bool) else v for k, v in flags.items()}
    )


@task(help=HELP)
def deploy(
    c,
    env_file=None,
    context=None,
    dockerfile=None,
    base_image=None,
    verify_url=None,
    verify_timeout=None,
    full=False,
    force_unlock=False,
    restart_anyway=False,
):
    """Build, ship only missing layers, check a candidate, swap, verify; roll back on failure."""
    with one_line_errors():
        s = _settings(
            c,
            env_file=env_file,
            context=context,
            dockerfile=dockerfile,
            base_image=base_image,
            verify_url=verify_url,
            verify_timeout=verify_timeout,
            full=full,
            force_unlock=force_unlock,
            restart_anyway=restart_anyway,
        )
        run_deploy(c, s)


@contextmanager
def step(rep: reports.DeployReport, name: str) -> Iterator[None]:
    """Say which step starts (so a stuck or interrupted deploy shows where), and time it."""
    print(f"{rep.host}: {name}", flush=True)
    with rep.phase(name):
        yield


def run_deploy(c: Any, s: settings.DeploySettings) -> reports.DeployReport:
    """The whole pipeline for one host; the report is written and printed whatever happens."""
    rep = reports.DeployReport(host=host_label(c))
    touched = False
    try:
        with step(rep, "preflight"):
            env = pipeline.load_env(s, rep.host)
            s.agent_url(host_keys(c), c.host)  # a --verify-url without this host fails here
        s = s.with_backend_key(env.values["BACKEND_TO_DTMA_API_KEY"])
        rep.env_sha256 = env.sha256
        with step(rep, "build"):
            built = pipeline.build(s)
        rep.version, rep.new_image = built.version, built.ref
        with step(rep, "check"):
            found = pipeline.check_host(c, s, built.ref)
        rep.old_image = found.running_ref or None
        touched = True
        unchanged = found.up_to_date(built.image_id, env.sha256) and not found.lock_owner
        if unchanged and not s.restart_anyway:
            # Nothing to ship, nothing to restart: an outage for nothing. Check it answers.
            print(f"{rep.host}: already up to date ({built.ref}, same env file)", flush=True)
            rep.image_bytes, rep.layers_total = built.size, len(built.diff_ids)
            with step(rep, "verify"):
                rep.outcome = "failed (already up to date, does not verify)"
                rep.verify = pipeline.verify_unchanged(c, s, built.version)
            rep.outcome = "already up to date"
        else:
            with lock.held(c, s.lock_dir, s.lock_ttl, s.force_unlock):
                run_locked(c, s, rep, env, built, found)
    except Exception as exc:
        rep.error = str(exc)
        record_host(host_keys(c), rep.outcome, rep.error)
        raise
    else:
        record_host(
            host_keys(c),
            rep.outcome,
            f"{rep.version} answers at {s.agent_url(host_keys(c), c.host)}",
        )
    finally:
        finish(c, s, rep, touched)
    return rep


def run_locked(
    c: Any,
    s: settings.DeploySettings,
    rep: reports.DeployReport,
    env: envfile.EnvFile,
    built: pipeline.BuiltImage,
    found: HostSurvey,
) -> None:
    """Everything that changes the host, under its deploy lock."""
    with step(rep, "plan"):
        present = shipping.host_chain_ids(c)
        missing = plan_layers(built.diff_ids, present).missing
        # Layer sizes are known only once the image is saved; a share of the image is the
        # estimate, and the whole image when the base layer is missing (a fresh host).
        share = 1.0 if 0 in missing else len(missing) / max(1, len(built.diff_ids))
        pipeline.check_disk(rep.host, found.free_bytes, int(built.size * share))
    with step(rep, "ship"):
        shipped = shipping.ship(c, built.ref, stage_dir=s.stage_dir, full=s.full, present=present)
    rep.bytes_sent, rep.image_bytes = shipped.bytes_sent, shipped.image_bytes
    rep.layers_total, rep.layers_sent = shipped.layers_total, shipped.layers_sent
    rep.full_transfer, rep.fell_back = shipped.full, shipped.fell_back
    with step(rep, "env"):
        pipeline.install_env(c, s, env)
    with step(rep, "candidate"):
        rep.outcome = "refused (candidate failed, running agent untouched)"
        release.check_candidate(c, s, built.ref, built.version, keep=True)
    try:
        with step(rep, "release"):
            rep.outcome = "failed during release"
            # The candidate that passed goes in the round trip that prepares the new agent.
            release.swap(c, s, built.ref, built.version, remove_first=(s.candidate,))
    except BaseException:
        c.run(commands.remove_if_present(s.candidate), hide=True, warn=True)
        raise
    try:
        with step(rep, "verify"):
            rep.verify = pipeline.verify_release(c, s, built.version, built.healthcheck)
    except verify.VerifyFailed as failure:
        rep.verify = f"failed: {failure}"
        with step(rep, "rollback"):
            error = pipeline.roll_back_after(c, s, failure, built.version)
        rep.outcome = "rolled back" if "rolled back" in error.hint else "failed (left stopped)"
        raise error from None
    rep.outcome = "deployed"


def finish(c: Any, s: settings.DeploySettings, rep: reports.DeployReport, touched: bool) -> None:
    print(reports.render(rep))
    path = reports.write(rep, s.reports_dir)
    print(f"report: {path}")
    if touched:
        line = reports.audit_line(rep, f"{getpass.getuser()}@{socket.gethostname()}")
        c.run(append_line(s.audit_log, line), hide=True, warn=True)


@task(help={k: HELP[k] for k in ("context", "dockerfile", "base_image")})
def build(c, context=None, dockerfile=None, base_image=None):
    """Build the agent image dtma:<version> (and dtma:latest) on this machine."""
    with one_line_errors():
        built = pipeline.build(
            _settings(c, context=context, dockerfile=dockerfile, base_image=base_image)
        )
        print(f"built {built.ref} ({built.image_id[7:19]}, {reports.human_bytes(built.size)})")


@task(help={k: HELP[k] for k in ("context", "dockerfile", "base_image", "full")})
def ship(c, context=None, dockerfile=None, base_image=None, full=False):
    """Build if needed and send the image to the host (only the layers it lacks)."""
    with one_line_errors():
        s = _settings(c, context=context, dockerfile=dockerfile, base_image=base_image, full=full)
        built = pipeline.build(s)
        print(shipping.ship(c, built.ref, stage_dir=s.stage_dir, full=s.full).summary())


@task(help={"env_file": HELP["env_file"]})
def env(c, env_file=None):
    """Install the local env file on the host as /etc/dtma/dtma.env (root, 0600, atomic)."""
    with one_line_errors():
        s = _settings(c, env_file=env_file)
        loaded = pipeline.load_env(s, host_label(c))
        with lock.held(c, s.lock_dir, s.lock_ttl):
            print(f"env file installed, sha256 {pipeline.install_env(c, s, loaded)}")


@task(
    name="release",
    help={
        "image": "image on the host to release (default: dtma:<version of the context>)",
        **{k: HELP[k] for k in ("env_file", "context", "verify_url", "verify_timeout")},
    },
)
def release_(c, image=None, env_file=None, context=None, verify_url=None, verify_timeout=None):
    """Candidate check, swap and verify an image already on the host; roll back on failure."""
    with one_line_errors():
        s = _settings(
            c,
            env_file=env_file,
            context=context,
            verify_url=verify_url,
            verify_timeout=verify_timeout,
        )
        s = pipeline.with_backend_key(c, s)
        ref = image or f"{pipeline.REPOSITORY}:{pipeline.source_version(s)}"
        version = ref.split(":", 1)[1]
        with lock.held(c, s.lock_dir, s.lock_ttl):
            release.check_candidate(c, s, ref, version)
            release.swap(c, s, ref, version)
            try:
                print(pipeline.verify_release(c, s, version))
            except verify.VerifyFailed as failure:
                raise pipeline.roll_back_after(c, s, failure, version) from None


@task(name="verify", help={k: HELP[k] for k in ("env_file", "verify_url", "verify_timeout")})
def verify_(c, env_file=None, verify_url=None, verify_timeout=None):
    """Check the running agent as the backend would: health, /status, auth, stability."""
    with one_line_errors():
        s = _settings(c, env_file=env_file, verify_url=verify_url, verify_timeout=verify_timeout)
        s = pipeline.with_backend_key(c, s)
        state = verify.container_state(c, s.container) or {}
        version = (state.get("Config", {}).get("Labels") or {}).get("dtma.version", "")
        test = tuple((state.get("Config", {}).get("Healthcheck") or {}).get("Test") or ())
        print(pipeline.verify_release(c, s, version, test))
