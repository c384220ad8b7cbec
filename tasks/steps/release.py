"""release: the running agent is renamed aside, the new one created, then one short cutover."""

from __future__ import annotations

import getpass
import socket
import time

from tasks.commands import docker
from tasks.commands.shell import chain, then
from tasks.errors import DeployError
from tasks.facts.container import read_container
from tasks.runner import Remote
from tasks.settings import DeploySettings


def release_labels(version: str) -> dict[str, str]:
    """What `fab status` and the next deploy read back from the agent's container."""
    return {
        "dtma.version": version,
        "dtma.revision": version.split("-", 1)[0],
        "dtma.deployed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dtma.deployed_by": f"{getpass.getuser()}@{socket.gethostname()}",
    }


def swap(
    remote: Remote,
    s: DeploySettings,
    image_ref: str,
    version: str,
    *,
    remove_first: tuple[str, ...] = (),
) -> None:
    """Rename the running agent aside, create the new one, then stop old + start new at once.

    `remove_first`: containers to remove in the same round trip (a candidate that passed).
    """
    current = read_container(remote, s.container, step="release")
    prepare = [docker.remove_if_present(name) for name in (*remove_first, s.previous)]
    if current:
        prepare.append(docker.rename(s.container, s.previous))
    new_agent = docker.create(
        s.container,
        image_ref,
        env_file=s.remote_env_file,
        publish=f"{s.port}:{s.port}",
        labels=release_labels(version),
    )
    prepared = remote.run(chain(*prepare, new_agent), step="release", check=False)
    if not prepared.ok:
        restore = [docker.remove_if_present(s.container)]
        if current:
            restore.append(docker.rename(s.previous, s.container))
        remote.run(then(*restore), step="release", check=False)
        cause = prepared.last_line() if prepared.stderr.strip() else "docker create failed"
        raise DeployError(remote.host, "release", cause, "the running agent was not touched")
    # The only window without an agent: one SSH round trip, stop then start.
    cutover = [docker.start(s.container)]
    if current:
        cutover.insert(0, docker.stop(s.previous))
    remote.run(chain(*cutover), step="release", hint="rolling back")
