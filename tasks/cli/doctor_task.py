"""`fab doctor`: which hosts would answer the backend's refresh with an error, and the fix."""

from __future__ import annotations

import sys
import time
from contextlib import redirect_stdout

from fabric import Connection
from invoke.exceptions import Exit

from tasks.cli.common import HOST_KEY_FLAGS, LongFleetFlags, host_task
from tasks.cli.executor import drives_fleet, rollout_of
from tasks.doctor.run import as_json, counted, examine_all
from tasks.fleet.run import connection, fleet_hosts
from tasks.runner import Remote, remote_of
from tasks.settings import DeploySettings

HELP = {
    "env_file": "env file holding the keys the backend has (default .env): the check presents "
    "its BACKEND_TO_DTMA_API_KEY as the backend would; without the file, no key is presented",
    "env_from_host": "take the backend's key from each host (its /etc/dtma/dtma.env, else the "
    "agent container's environment) instead of a local env file",
    "json": "print one JSON document (hosts, findings, fixes) instead of lines",
    "hosts_file": "examine the hosts in FILE too (one [user@]host[:port] a line, # comments)",
    "do_tag": "examine the droplets with this DigitalOcean tag too (token from DIGITALOCEAN_TOKEN)",
}


@host_task(
    "env_file",
    "env_from_host",
    "verify_url",
    "connect_timeout",
    "hosts_file",
    "do_tag",
    "json",
    *HOST_KEY_FLAGS,
    help=HELP,
    klass=LongFleetFlags,
)
def doctor(c: Connection, s: DeploySettings, json: bool) -> None:
    """Which hosts would fail the backend's GET /status, why, and the command that fixes it.
    Every host at once, each wait bounded; changes nothing. Exits 1 when any host fails."""
    started = time.monotonic()
    run = rollout_of(c)
    if run.cli_hosts is None:  # called with a Connection (not through DeployExecutor)
        hosts, source = [c.original_host], "-H"
    else:
        with redirect_stdout(sys.stderr if json else sys.stdout):  # stdout: the JSON alone
            hosts, source = fleet_hosts(s, run.cli_hosts)
    if not json:
        print(f"doctor: {len(hosts)} host(s) from {source}", flush=True)

    def connect(host: str) -> Remote:
        return remote_of(connection(c, host), s)

    def url_of(host: str) -> str:
        conn = connection(c, host)
        keys = (host, f"{conn.user}@{conn.host}:{conn.port}", f"{conn.host}:{conn.port}", conn.host)
        return s.agent_url(keys, conn.host)

    reports = examine_all(s, hosts, url_of, connect, say=(lambda line: None) if json else say)
    seconds = time.monotonic() - started
    print(as_json(reports, seconds) if json else counted(reports, seconds), flush=True)
    if not all(r.healthy for r in reports):
        raise Exit(code=1)


def say(line: str) -> None:
    print(line, flush=True)


drives_fleet(doctor)
