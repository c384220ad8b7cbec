"""`fab deploy` over several hosts (-H a,b,…, --hosts-file, --do-tag): the host list first,
one build, then the fleet rollout (tasks/fleet/rollout.py), a summary and a fleet report."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import docker
import fabric
from invoke.exceptions import Exit

from tasks import settings
from tasks.errors import DeployError
from tasks.fleet.gate import Gate
from tasks.fleet.hosts import FleetHosts
from tasks.fleet.images import SavedOnceClient
from tasks.fleet.inventory import InventoryError, hosts_from_digitalocean, hosts_from_file, unique
from tasks.fleet.output import routed
from tasks.fleet.prefetch import Prefetch, pulling, shipping
from tasks.fleet.rollout import NOT_STARTED, Fleet, HostOutcome, Rollout, Shape
from tasks.runner import Remote, remote_of
from tasks.steps import report
from tasks.steps.build import BuiltImage, build
from tasks.steps.preflight import load_env
from tasks.steps.publish import Published
from tasks.steps.pull import pushed_once

INTERRUPTED = 130  # the shell's code for a run ended by Ctrl-C


def fleet_hosts(s: settings.DeploySettings, cli_hosts: list[str]) -> tuple[list[str], str]:
    """-H hosts, then those of --hosts-file, then the droplets tagged --do-tag; each once."""
    hosts, sources = list(cli_hosts), ["-H"] if cli_hosts else []
    if s.hosts_file:
        found = hosts_from_file(s.hosts_file)
        hosts += found.hosts
        sources.append(f"hosts file {found.source}")
    if s.do_tag:
        found = hosts_from_digitalocean(s.do_tag, settings.digitalocean_token(), s.do_api)
        hosts += found.hosts
        sources.append(found.source)
        for skipped in found.skipped:
            print(f"fleet: skipped droplet {skipped}")
    if not hosts:
        raise InventoryError("no hosts: give -H host[,host…], --hosts-file FILE or --do-tag TAG")
    return list(unique(hosts)), " + ".join(sources)


# Invoke's Config is not thread-safe: a Connection made from it while another thread makes one
# can read it half-merged ("No attribute or config key found for 'gateway'", seen in CI).
_MAKING_CONNECTION = threading.Lock()


def connection(c: Any, host: str) -> fabric.Connection:
    """The Connection Fabric would make for -H `host` (its keys, ssh_config, user); remote_of
    bounds its connect, banner and login waits. Safe from several threads at once."""
    with _MAKING_CONNECTION:
        return fabric.Connection(host, config=c.config)


def deploy_fleet(c: Any, s: settings.DeploySettings, hosts: list[str], source: str, run: Rollout):
    print(f"fleet: {len(hosts)} host(s) from {source}: {', '.join(hosts)}", flush=True)
    shape = Shape(s.canary, s.parallel, s.on_failure, s.host_deadline)
    also = "; smoke suite as a gate" if s.smoke else ""
    print(
        f"fleet: canary {s.canary}, then {s.parallel} at a time; on failure {s.on_failure}; "
        f"deadline {s.host_deadline:.0f} s a host, connect timeout {s.connect_timeout:.0f} s{also}",
        flush=True,
    )
    if not s.env_from_host:
        load_env(s, "local")  # a bad env file is refused before the build and any host
    built = build(s, cache=run.built)
    print(f"fleet: built {built.ref} once for every host", flush=True)
    published = pushed_once(built, s.registry) if s.registry else None  # hosts pull it
    rep = report.FleetReport(source=source, shape={**shape.__dict__, "smoke": s.smoke})
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(rep.started_at))
    logs = Path(s.reports_dir) / f"fleet-{stamp}"
    images = SavedOnceClient(docker.from_env())

    def connect(host: str) -> Remote:
        return remote_of(connection(c, host), s)

    with routed(logs) as streams:
        gate = Gate()
        work = FleetHosts(s, connect, streams, run.built, images)

        def deploy(host: str) -> HostOutcome:  # a canary goes through; the others ask the gate
            prefetch.wait(host)
            return work.deploy(host, gate=None if host in fleet.canaries else gate.passed)

        fleet = Fleet(
            hosts, shape, deploy, work.roll_back, expire=work.expire, say=streams.say, gate=gate
        )
        waiting = [host for host in hosts if host not in fleet.canaries] if fleet.canaries else []
        prefetch = head_start(s, work, waiting, built, published)
        try:
            ok = fleet.run()
        finally:
            prefetch.close(started=[h for h, r in fleet.records.items() if r.state != NOT_STARTED])
            images.close()
            for remote in work.remotes.values():
                remote.close()
    print(summary(fleet))
    rep.outcome = "deployed" if ok else ("interrupted" if fleet.interrupted else "failed")
    rep.interrupted, rep.total_seconds, rep.host_logs = fleet.interrupted, fleet.seconds, str(logs)
    rep.rollback_seconds = fleet.rollback_seconds
    rep.hosts = [record_of(r) for r in fleet.records.values()]
    print(f"fleet report: {report.write_fleet(rep, s.reports_dir)}; host logs: {logs}/")
    if not ok:
        raise Exit(failure_line(fleet), code=INTERRUPTED if fleet.interrupted else 1)


def head_start(
    s: settings.DeploySettings,
    work: FleetHosts,
    waiting: list[str],
    built: BuiltImage,
    published: Published | None,
) -> Prefetch:
    """The hosts after the canaries receive the image while the canaries run (no more at a time
    than --parallel when it goes up the operator's own uplink)."""
    if published:
        fetch, workers, how = pulling(work, published.reference), len(waiting), "pull it"
    else:
        fetch, workers, how = shipping(work, built), s.parallel, "receive and load it"
    if waiting:
        print(f"fleet: the other {len(waiting)} host(s) {how} while the canary runs", flush=True)
    return Prefetch(work.remote, waiting, fetch, workers, everywhere=bool(published))


def record_of(record: Any) -> dict[str, Any]:
    keys = ("host", "state", "step", "cause", "detail", "switched", "seconds", "rollback")
    return {**{k: getattr(record, k) for k in keys}, "report": record.report}


def summary(fleet: Fleet) -> str:
    title = f"fleet summary: {len(fleet.hosts)} host(s) in {fleet.seconds:.1f} s"
    return "\n".join([title, *(f"  {r.host:<28} {r.line()}" for r in fleet.records.values())])


def failure_line(fleet: Fleet) -> str:
    if fleet.interrupted:
        return "error: fleet: interrupted (Ctrl-C): see the summary for each host"
    failed = fleet.failed
    first = failed[0]
    what = DeployError(first.host, first.step, first.cause, first.detail)
    return f"error: fleet: {len(failed)} of {len(fleet.hosts)} host(s) failed; first: {what}"
