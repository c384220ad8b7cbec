"""pull: with `--registry REGISTRY/REPO`, hosts take the image from a registry, not from here.

The image is pushed once per run (every host of a fleet shares the push), then each host pulls
it by digest, only the layers it lacks, in one exchange: pull, tag it with the deploy's own
names, drop the digest reference (pruning a release then frees its layers), print what a
fingerprint reads. Candidate, handover, verify and rollback then go as after a ship.
"""

from __future__ import annotations

import threading
import time

import docker

from tasks import identity
from tasks.commands import docker as docker_commands
from tasks.commands.shell import chain
from tasks.errors import DeployError
from tasks.runner import Remote
from tasks.steps.build import BuiltImage
from tasks.steps.preflight import REPOSITORY
from tasks.steps.publish import AUTH_WORDS, Published, parse_target, push
from tasks.steps.ship import ShipResult

EXTRA_TAGS = (f"{REPOSITORY}:latest",)  # the other name a build gives its image
_pushed: dict[tuple[str, str], Published] = {}
_pushing = threading.Lock()


def pushed_once(built: BuiltImage, repository: str) -> Published:
    """`built` in the registry, pushed by the first host that asks; the others wait for it."""
    target = parse_target(repository, built.version)
    key = (built.image_id, f"{target.repository}:{target.tag}")
    with _pushing:
        if key not in _pushed:
            _pushed[key] = push(docker.from_env(), built, target)
            print(f"local: pushed {_pushed[key].reference}, once for every host", flush=True)
        return _pushed[key]


def pull_command(reference: str, image_ref: str) -> list[str]:
    """Pull by digest, name it as a deploy names its image, and print its identity."""
    tags = [docker_commands.tag(reference, ref) for ref in (image_ref, *EXTRA_TAGS)]
    return chain(
        docker_commands.pull(reference),
        *tags,
        docker_commands.remove_image(reference),
        docker_commands.image_identity(image_ref),
    )


def pull_refused(host: str, ssh_line: str, registry: str, stderr: str) -> DeployError:
    """One line for a pull that failed: the host's images and its running agent are unchanged."""
    said = next((x for x in reversed(stderr.strip().splitlines()) if x.strip()), "no reason")
    low = said.lower()
    if any(word in low for word in AUTH_WORDS):
        cause = f"registry {registry} refused the pull: {said}"
        hint = f"log the host in once (a read-only token): {ssh_line} docker login {registry}"
    elif "manifest unknown" in low or "not found" in low:
        cause = f"registry {registry} does not hold the image: {said}"
        hint = "push it again (the next deploy with --registry does)"
    elif "x509" in low or "certificate" in low:
        cause = f"the host does not trust registry {registry}'s certificate: {said}"
        hint = f"install its CA on the host as /etc/docker/certs.d/{registry}/ca.crt"
    else:
        cause = f"cannot pull from registry {registry}: {said}"
        hint = f"the host must reach {registry} (address, firewall, DNS, disk space)"
    return DeployError(host, "pull", cause, hint + "; the running agent is untouched")


def pull(
    remote: Remote,
    published: Published,
    built: BuiltImage,
    *,
    host_fingerprint: str,
    layers_missing: int,
) -> ShipResult:
    """Make the host hold `built` as `built.ref`, pulled from the registry by digest."""
    started = time.monotonic()
    common = dict(
        image_id=built.image_id,
        image_ref=built.ref,
        full=False,
        layers_total=len(built.diff_ids),
        bytes_sent=0,  # from this machine: the registry sends the layers
        image_bytes=built.size,
        tags=(built.ref, *EXTRA_TAGS),
    )
    if host_fingerprint == built.fingerprint:  # already there: only the names
        remote.run(chain(*(docker_commands.tag(built.ref, t) for t in EXTRA_TAGS)), step="tag")
        return ShipResult(layers_sent=0, seconds=time.monotonic() - started, **common)
    print(f"{remote.host}: pulling {published.reference}", flush=True)
    done = remote.run(pull_command(published.reference, built.ref), step="pull", check=False)
    if not done.ok:
        raise pull_refused(
            remote.host, remote.ssh_line, published.target.registry, done.stderr or done.stdout
        )
    inspected = identity.parse_inspect_line((done.stdout.strip().splitlines() or [""])[-1])
    if not inspected or identity.fingerprint(inspected) != built.fingerprint:
        cause = f"after the pull the host's {built.ref} is not the image built here"
        raise DeployError(remote.host, "pull", cause, "deploy again without --registry")
    seconds = time.monotonic() - started
    print(f"{remote.host}: pulled {layers_missing} layer(s) it lacked in {seconds:.1f} s")
    return ShipResult(layers_sent=layers_missing, seconds=seconds, **common)
