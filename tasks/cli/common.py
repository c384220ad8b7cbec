"""What every task shares: flag help, settings from flags, one-line errors, the host's Remote.

Task flags carry no annotations: Invoke reads a flag's kind from its default (None: a value,
False: a switch), and every value arrives as the string typed; settings.py types them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fabric.tasks
from invoke.exceptions import Exit

from tasks import settings
from tasks.errors import DeployError
from tasks.host_keys import HostKeyCheck
from tasks.inventory import InventoryError
from tasks.runner import Remote

HELP = {
    "env_file": "local env file for the agent (default .env); sent as /etc/dtma/dtma.env",
    "context": "Docker build context (default: the project folder)",
    "dockerfile": "Dockerfile inside the context (default Dockerfile)",
    "base_image": "base image for the build (default: the Dockerfile's, or a local one)",
    "verify_url": "where the agent answers (default http://HOST:30000); per host: H1=URL,H2=URL",
    "verify_timeout": "seconds to wait for /health (default 60)",
    "full": "send the whole image, not only the layers the host lacks",
    "force_unlock": "break a deploy lock its holder stopped renewing (TTL, default 15 min)",
    "restart_anyway": "release and restart the agent even when the host already runs this image "
    "with this env file (by default such a host is only verified and left running)",
    "adopt": "take over port 30000 from a DTMA container this tool did not deploy (e.g. "
    "Agentopia's dtma_manager): it becomes the previous release, its name keeps answering "
    "for containers linked to it",
    "env_from_host": "take DTMA_BEARER_TOKEN, BACKEND_TO_DTMA_API_KEY and AGENTOPIA_API_BASE_URL "
    "from the running (or adopted) container instead of a local env file",
    "replace_token": "adopt even though the env file's DTMA_BEARER_TOKEN differs from the "
    "adopted container's (Agentopia then rejects the droplet's heartbeats until it has it)",
    "keep": "how many releases to keep (default 3)",
    "known_hosts": "known_hosts file checked first (and where --accept-new-host-key records); "
    "~/.ssh/known_hosts is always read too",
    "accept_new_host_key": "trust an unknown host's SSH key on first use and record it "
    "(a changed key is refused even so)",
    "canary": "with several hosts: how many go first, alone and in order (default 1)",
    "parallel": "with several hosts: how many at a time after the canaries (default 1)",
    "on_failure": "stop (default: no new host starts) or rollback-all (also every host "
    "switched in this run goes back to its previous release, verified)",
    "connect_timeout": "seconds for each host's SSH connect, banner and login (default 10)",
    "host_deadline": "seconds for each host's whole deploy (default 1800)",
    "smoke": "run the smoke suite's default promises on each host after its release; "
    "a broken promise fails the host (and rolls it back)",
    "hosts_file": "deploy to the hosts in FILE too (one [user@]host[:port] a line, # comments)",
    "do_tag": "deploy to the droplets with this DigitalOcean tag too (root@public IPv4; "
    "token from DIGITALOCEAN_TOKEN)",
}
HOST_KEY_FLAGS = ("known_hosts", "accept_new_host_key")
FLEET_FLAGS = (
    "canary",
    "parallel",
    "on_failure",
    "connect_timeout",
    "host_deadline",
    "smoke",
    "hosts_file",
    "do_tag",
)


class LongFleetFlags(fabric.tasks.Task):
    """A task whose fleet flags have long names only: `fab deploy -h` stays help and `-i`
    stays fab's identity file, as before these flags existed."""

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        if name in FLEET_FLAGS:
            opts["names"] = opts["names"][:1]
        return opts


def help_for(*names: str) -> dict[str, str]:
    return {name: HELP[name] for name in names}


def load_settings(c: Any, **flags: Any) -> settings.DeploySettings:
    """The task's settings: defaults <- fabric.yaml `dtma:` <- DTMA_DEPLOY_* <- these flags."""
    # A bool flag left at False means "not given": config and environment still apply.
    given = {k: (v or None) if isinstance(v, bool) else v for k, v in flags.items()}
    return settings.load(c, **given)


def host_key_flags(task_locals: dict[str, Any]) -> dict[str, Any]:
    """The host-key flags among a task's parameters, for tasks that name their settings."""
    return {name: task_locals[name] for name in HOST_KEY_FLAGS}


def settings_from(task_locals: dict[str, Any]) -> settings.DeploySettings:
    """Settings from a task's own parameters, called with `locals()` first thing in the task:
    a task's flags are its parameters, and every flag named like a setting is that setting."""
    names = settings.field_names()
    flags = {name: value for name, value in task_locals.items() if name in names}
    return load_settings(task_locals["c"], **flags)


def remote_of(c: Any, s: settings.DeploySettings) -> Remote:
    """The host Fabric connected this task to (-H), its SSH host key checked against
    --known-hosts, then any UserKnownHostsFile of the ssh_config (-S), then ~/.ssh/known_hosts."""
    bound_waits(c, s.connect_timeout)
    check = HostKeyCheck.from_settings(s.known_hosts, s.accept_new_host_key)
    from_ssh_config = c.ssh_config.get("userknownhostsfile") if hasattr(c, "ssh_config") else None
    return Remote(c, check.with_files(from_ssh_config.split() if from_ssh_config else ()))


def bound_waits(c: Any, seconds: float) -> None:
    """An unreachable or silent host fails within `seconds`: TCP connect, SSH banner, login
    (a -t/--connect-timeout given to fab wins for the connect)."""
    if not hasattr(c, "connect_kwargs") or c.is_connected:
        return
    c.connect_timeout = c.connect_timeout or max(1, int(seconds))
    waits = {"banner_timeout": seconds, "auth_timeout": seconds}
    c.connect_kwargs = {**waits, **c.connect_kwargs}


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Expected failures end the task with one line and exit code 1; bugs keep their traceback."""
    try:
        yield
    except (DeployError, settings.SettingsError, InventoryError) as exc:
        raise Exit(f"error: {exc}", code=1) from None
