"""Put a new image in service: a candidate first, then a short swap, and the way back.

The running agent is touched only after a candidate of the new image has passed the same
checks the backend relies on, through an SSH tunnel to a port bound to the host's loopback.
"""

from __future__ import annotations

import getpass
import logging
import socket
import time
from typing import Any

import paramiko
from invoke.exceptions import ThreadException

from tasks import commands, verify
from tasks.commands import shell
from tasks.errors import DeployError, host_label
from tasks.settings import DeploySettings

# Paramiko logs each refused tunnel connect at ERROR; the checks report what matters.
logging.getLogger("paramiko.transport").addHandler(logging.NullHandler())
logging.getLogger("paramiko.transport").propagate = False


def labels(version: str) -> dict[str, str]:
    return {
        "dtma.version": version,
        "dtma.revision": version.split("-", 1)[0],
        "dtma.deployed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dtma.deployed_by": f"{getpass.getuser()}@{socket.gethostname()}",
    }


def free_local_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_logs(conn: Any, name: str, lines: int = 50) -> str:
    result = conn.run(shell(commands.logs(name, tail=lines)) + " 2>&1", hide=True, warn=True)
    return result.stdout.rstrip()


def check_through_tunnel(conn: Any, s: DeploySettings, version: str) -> None:
    """The candidate's checks through `ssh -L` to the host's loopback-only candidate port."""
    port = free_local_port()
    failure: verify.VerifyFailed | None = None
    try:
        with conn.forward_local(
            port, remote_port=s.candidate_port, remote_host="127.0.0.1", local_host="127.0.0.1"
        ):
            try:
                verify.check_agent(
                    f"http://127.0.0.1:{port}",
                    backend_key=s.backend_key,
                    version=version,
                    timeout=s.verify_timeout,
                    alive=verify.running(conn, s.candidate),
                )
            except verify.VerifyFailed as exc:
                failure = exc
    except ThreadException as exc:
        # Fabric re-raises every failed tunnel connection at exit; refused connects while the
        # candidate boots (or after it died) are expected, and the checks above decided.
        if not all(isinstance(w.value, paramiko.ChannelException) for w in exc.exceptions):
            raise
    if failure is not None:
        raise failure


def check_candidate(
    conn: Any, s: DeploySettings, image_ref: str, version: str, *, keep: bool = False
) -> None:
    """Start the new image beside the running one and check it; remove it either way.

    `keep=True` leaves a candidate that passed for the caller to remove (swap() does, in the
    round trip that prepares the new agent); a failed or interrupted one is always removed here.
    """
    name = s.candidate
    publish = f"127.0.0.1:{s.candidate_port}:{s.port}"
    create = commands.create(
        name, image_ref, env_file=s.remote_env_file, publish=publish, restart="no"
    )
    passed = False
    try:
        started = conn.run(
            commands.remove_if_present(name) + " && " + shell(create, commands.start(name)),
            hide=True,
            warn=True,
        )
        if not started.ok:
            raise verify.VerifyFailed(
                f"could not start: {started.stderr.strip().splitlines()[-1:]}"
            )
        check_through_tunnel(conn, s, version)
        verify.check_stable(conn, name, min(s.settle_seconds, 1.0))
        passed = True
    except verify.VerifyFailed as exc:
        logs = last_logs(conn, name)
        print(f"--- last log lines of the candidate ({image_ref}) ---\n{logs}\n---")
        raise DeployError(
            host_label(conn),
            "candidate",
            str(exc),
            "the running agent was not touched; fix the image and redeploy",
        ) from None
    finally:
        # On every way out, Ctrl-C included: a candidate never outlives its check.
        if not (passed and keep):
            conn.run(commands.remove_if_present(name), hide=True)


def swap(
    conn: Any,
    s: DeploySettings,
    image_ref: str,
    version: str,
    *,
    remove_first: tuple[str, ...] = (),
) -> None:
    """Rename the running agent aside, create the new one, then stop old + start new at once.

    `remove_first`: containers to remove in the same round trip (a candidate that passed).
    """
    current = verify.container_state(conn, s.container)
    prepare = [commands.remove_if_present(name) for name in (*remove_first, s.previous)]
    if current:
        prepare.append(shell(commands.rename(s.container, s.previous)))
    prepare.append(
        shell(
            commands.create(
                s.container,
                image_ref,
                env_file=s.remote_env_file,
                publish=f"{s.port}:{s.port}",
                labels=labels(version),
            )
        )
    )
    prepared = conn.run(" && ".join(prepare), hide=True, warn=True)
    if not prepared.ok:
        restore = [commands.remove_if_present(s.container)]
        if current:
            restore.append(shell(commands.rename(s.previous, s.container)))
        conn.run(" ; ".join(restore), hide=True, warn=True)
        cause = (prepared.stderr.strip().splitlines() or ["docker create failed"])[-1]
        raise DeployError(host_label(conn), "release", cause, "the running agent was not touched")
    # The only window without an agent: one SSH round trip, stop then start.
    cutover = [commands.start(s.container)]
    if current:
        cutover.insert(0, commands.stop(s.previous))
    result = conn.run(shell(*cutover), hide=True, warn=True)
    if not result.ok:
        raise DeployError(host_label(conn), "release", result.stderr.strip(), "rolling back")


def rollback(conn: Any, s: DeploySettings) -> bool:
    """Remove the failed new agent and bring the previous one back; False when there is none."""
    if verify.container_state(conn, s.previous) is None:
        conn.run(shell(commands.stop(s.container)), hide=True, warn=True)
        return False
    steps = [commands.rename(s.previous, s.container), commands.start(s.container)]
    conn.run(commands.remove_if_present(s.container) + " && " + shell(*steps), hide=True)
    return True


def switch_to_previous(conn: Any, s: DeploySettings) -> None:
    """Manual rollback: the previous release runs again, the current one becomes previous."""
    if verify.container_state(conn, s.previous) is None:
        raise DeployError(
            host_label(conn), "rollback", f"no {s.previous} container", "nothing to roll back to"
        )
    aside = f"{s.container}-rollback"
    steps = [
        commands.rename(s.container, aside),
        commands.rename(s.previous, s.container),
        commands.stop(aside),
        commands.start(s.container),
        commands.rename(aside, s.previous),
    ]
    conn.run(commands.remove_if_present(aside) + " && " + shell(*steps), hide=True)
