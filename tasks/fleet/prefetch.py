"""While the canaries run, the hosts after them already receive the image, so that once the
canaries pass, their own deploys find it there: left to them are the tag, the candidate, the
handover and the verify.

Straight from here, a host gets the layers it lacks and loads them (`ship`, no other tag
moved); with --registry it pulls the digest reference. Either way no container changes and no
lock is taken: a host whose deploy lock is held, or that runs another platform, is left for its
own deploy. A head start that fails is lost, nothing more: the host's deploy does the work
again and says why. At the end, what a head start left goes again from each host whose deploy
did not start (a failed canary leaves them as they were); a digest reference goes everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from tasks.commands import docker as docker_commands
from tasks.errors import DeployError
from tasks.steps import preflight
from tasks.steps.build import BuiltImage
from tasks.steps.deploy import plan_transfer
from tasks.steps.ship import ship

if TYPE_CHECKING:
    from tasks.fleet.hosts import FleetHosts
    from tasks.runner import Remote

PREFETCH = "prefetch"
STEP_ERRORS = (DeployError, OSError, EOFError)
Fetch = Callable[[str], "str | None"]  # host -> the image reference it left there, if any


class Prefetch:
    """`fetch(host)` on each of `hosts` in the background, `workers` at a time, in order.
    `everywhere`: what a head start left goes from every host at the end, deployed or not."""

    def __init__(
        self,
        remote: Callable[[str], Remote],
        hosts: list[str],
        fetch: Fetch,
        workers: int,
        everywhere: bool = False,
    ) -> None:
        self._remote, self._everywhere = remote, everywhere
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix=PREFETCH)
        self._jobs: dict[str, Future] = {h: self._pool.submit(quietly, fetch, h) for h in hosts}

    def wait(self, host: str) -> None:
        """Until `host`'s head start is over (its deploy must not ship beside it)."""
        if host in self._jobs:
            wait([self._jobs[host]])

    def close(self, started: Collection[str] = ()) -> None:
        """Head starts not yet begun are dropped, the others waited for; then the reference
        each left goes from the hosts whose deploy did not start."""
        for job in self._jobs.values():
            job.cancel()
        wait(self._jobs.values())
        left = {h: job.result() for h, job in self._jobs.items() if not job.cancelled()}
        doomed = [h for h, ref in left.items() if ref and (self._everywhere or h not in started)]

        def drop(host: str) -> None:
            remove = docker_commands.remove_image(left[host])
            quietly(lambda h: self._remote(h).run(remove, step=PREFETCH, check=False), host)

        list(self._pool.map(drop, doomed))
        self._pool.shutdown()


def quietly(fetch: Callable[[str], object], host: str):
    try:
        return fetch(host)
    except STEP_ERRORS:
        return None  # unreachable, refused, cut by its deadline: its deploy says why


def pulling(work: FleetHosts, reference: str) -> Fetch:
    """--registry: the host pulls the digest reference."""

    def fetch(host: str) -> str | None:
        pull = docker_commands.pull(reference)
        return reference if work.remote(host).run(pull, step=PREFETCH, check=False).ok else None

    return fetch


def shipping(work: FleetHosts, built: BuiltImage) -> Fetch:
    """Straight from here: the layers the host lacks, loaded as `built.ref`; the host's log says
    what went."""

    def fetch(host: str) -> str | None:
        remote = work.remote(host)
        with work.streams.for_host(host, remote.host):
            found = preflight.check_host(remote, work.s, built.ref)
            held = found.target_fingerprint == built.fingerprint
            if held or found.lock_owner or preflight.other_platform(built.platform, found.platform):
                return None
            present, _ = plan_transfer(remote, found, built)
            shipped = ship(
                remote,
                built.ref,
                stage_dir=work.s.stage_dir,
                full=work.s.full,
                progress=False,
                docker_client=work.docker_client,  # type: ignore[arg-type]
                present=present,
                store=found.image_store,
                host_fingerprint=found.target_fingerprint,
                tag_others=False,
            )
            print(f"{remote.host}: ahead of its turn, {shipped.summary()}", flush=True)
            return built.ref

    return fetch
