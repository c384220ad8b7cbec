"""Promise (opt-in, --ssh): the agent's container comes back by itself and can do its job."""

from __future__ import annotations

import json
import shlex

import pytest

from smoke_tests.promises import BY_NAME, broken, clip
from smoke_tests.restart_policy import container_problems, inspect_argv, ssh_target
from smoke_tests.settings import SmokeSettings

pytestmark = pytest.mark.promise("restart-policy")


def test_container_restarts_by_itself_with_socket_and_port(settings: SmokeSettings) -> None:
    if not settings.ssh:
        pytest.skip(f"not checked: enable with {BY_NAME['restart-policy'].enabled_by}")
    from fabric import Connection  # only loaded when asked: the default set stays fast
    from paramiko.ssh_exception import SSHException

    from tasks.host_keys import HostKeyCheck

    user, host, port = ssh_target(settings.ssh)
    connect_kwargs = {"key_filename": settings.ssh_key} if settings.ssh_key else {}
    command = shlex.join(inspect_argv(settings.container))
    host_keys = HostKeyCheck.from_settings(settings.known_hosts, settings.accept_new_host_key)
    try:
        with Connection(
            host,
            user=user,
            port=port,
            connect_timeout=settings.timeout,
            connect_kwargs=connect_kwargs,
        ) as conn:
            host_keys.apply(conn.client)  # before connecting: nothing goes to an unknown key
            result = conn.run(command, hide=True, warn=True, in_stream=False)
    except (OSError, SSHException) as exc:
        if refused := host_keys.explain(exc, port):
            broken(f"ssh {settings.ssh}: {refused} — {refused.hint}")
        broken(f"ssh {settings.ssh}: {type(exc).__name__}: {exc} — check --ssh and --ssh-key")
    if result.exited != 0:
        said = clip(result.stderr, 300)
        broken(
            f"on {settings.ssh}, `{command}` failed ({said}) — "
            f"is the agent's container named {settings.container!r}? (--container)"
        )
    try:
        inspected = json.loads(result.stdout)[0]
    except (ValueError, IndexError, KeyError):
        broken(f"`{command}` printed no container description")
    problems = container_problems(inspected)
    if problems:
        broken(f"container {settings.container!r} on {host}: " + "; ".join(problems))
