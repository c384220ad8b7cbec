"""What every task shares: its flags declared once (host_task), settings from them, one-line errors.

Task flags carry no annotations: Invoke reads a flag's kind from its default (None: a value,
False: a switch), and every value arrives as the string typed; settings.py types them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import fabric.tasks
from invoke.exceptions import Exit

from tasks import settings
from tasks.errors import DeployError
from tasks.fleet.inventory import InventoryError

HELP = {
    "env_file": "local env file for the agent (default .env); sent as /etc/dtma/dtma.env",
    "context": "Docker build context (default: the project folder)",
    "dockerfile": "Dockerfile inside the context (default Dockerfile)",
    "base_image": "base image for the build (default: the Dockerfile's, or a local one)",
    "verify_url": "where the agent answers (default http://HOST:30000); per host: H1=URL,H2=URL",
    "verify_timeout": "seconds to wait for /health (default 60)",
    "full": "send the whole image, not only the layers the host lacks",
    "registry": "REGISTRY/REPO: push the image there once and have each host pull it by "
    "digest (only the layers it lacks) instead of sending it from here; this machine needs "
    "`docker login REGISTRY`, hosts only for a private one (docs/publishing.md)",
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
    "image": "image on the host to release (default: dtma:<version of the context>)",
    "follow": "keep streaming new lines",
    "tail": "lines to show (default 100)",
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


SWITCHES = frozenset({"follow", "json"})  # switch flags that are no setting (settings.is_switch)
SETTING_OF_FLAG = {"keep": "keep_releases"}  # a flag named other than its setting


def host_task(
    *flags: str, help: dict[str, str] | None = None, klass: type = fabric.tasks.Task
) -> Callable[[Callable[..., Any]], fabric.tasks.Task]:
    """A task declared by the flags it takes, each with its --help from HELP (or `help`).

    The body is called as `body(c, s, **others)`: `s` the settings (defaults <- fabric.yaml
    `dtma:` <- DTMA_DEPLOY_* <- the flags that name a setting), `others` the remaining flags;
    an expected failure ends the task in one line (one_line_errors)."""
    names = settings.field_names()
    params = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for flag in flags:
        switch = flag in SWITCHES or settings.is_switch(SETTING_OF_FLAG.get(flag, flag))
        default = False if switch else None
        params.append(
            inspect.Parameter(flag, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
        )
    texts = {flag: (help or {}).get(flag) or HELP[flag] for flag in flags}

    def declare(body: Callable[..., Any]) -> fabric.tasks.Task:
        def run(c: Any, **given: Any) -> Any:
            with one_line_errors():
                chosen = {SETTING_OF_FLAG.get(k, k): v for k, v in given.items()}
                others = {k: v for k, v in given.items() if SETTING_OF_FLAG.get(k, k) not in names}
                s = load_settings(c, **{k: v for k, v in chosen.items() if k in names})
                return body(c, s, **others)

        run.__name__, run.__qualname__, run.__doc__ = body.__name__, body.__qualname__, body.__doc__
        run.__module__ = body.__module__
        run.__signature__ = inspect.Signature(params)  # what Invoke reads the flags from
        return fabric.tasks.task(klass=klass, help=texts)(run)

    return declare


def load_settings(c: Any, **flags: Any) -> settings.DeploySettings:
    """The task's settings: defaults <- fabric.yaml `dtma:` <- DTMA_DEPLOY_* <- these flags."""
    # A bool flag left at False means "not given": config and environment still apply.
    given = {k: (v or None) if isinstance(v, bool) else v for k, v in flags.items()}
    return settings.load(c, **given)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Expected failures end the task with one line and exit code 1; bugs keep their traceback."""
    try:
        yield
    except (DeployError, settings.SettingsError, InventoryError) as exc:
        raise Exit(f"error: {exc}", code=1) from None
