"""With --registry, the hosts after the canaries pull the image while the canaries run, so that
once the canaries pass, their own deploys find it there: left to them are only the tag, the
candidate, the handover and the verify.

A prefetch changes no container: it only pulls the digest reference. A pull that fails here is
a head start lost, nothing more: the host's deploy pulls again and says why. At the end, the
digest reference goes from every host it was pulled to (a host that deployed has dropped it
already, a host that did not is left as it was).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from tasks.commands import docker as docker_commands
from tasks.errors import DeployError
from tasks.runner import Remote

PREFETCH = "prefetch"
STEP_ERRORS = (DeployError, OSError, EOFError)


class Prefetch:
    """Pulls `reference` on `hosts` in the background, one thread each."""

    def __init__(self, remote: Callable[[str], Remote], hosts: list[str], reference: str):
        self.reference = reference
        self._remote = remote
        self._pool = ThreadPoolExecutor(max(1, len(hosts)), thread_name_prefix=PREFETCH)
        self._pulls = {host: self._pool.submit(self._pull, host) for host in hosts}

    def _pull(self, host: str) -> bool:
        try:
            pull = docker_commands.pull(self.reference)
            return self._remote(host).run(pull, step=PREFETCH, check=False).ok
        except STEP_ERRORS:
            return False  # unreachable, cut by its deadline: its deploy says why

    def close(self) -> None:
        """Wait for the pulls, then drop the digest reference wherever one was pulled."""
        wait(self._pulls.values())
        pulled = [host for host, pull in self._pulls.items() if pull.result()]

        def drop(host: str) -> None:
            try:
                remove = docker_commands.remove_image(self.reference)
                self._remote(host).run(remove, step=PREFETCH, check=False)
            except STEP_ERRORS:
                pass  # an image reference left behind, nothing running changed

        list(self._pool.map(drop, pulled))
        self._pool.shutdown()
