"""publish: the agent image put where droplets pull it, a registry, so that Agentopia's
provisioning (`docker pull "$DTMA_DOCKER_IMAGE_URL"`) starts every new droplet with it.

The built image first runs here as Agentopia's user-data runs it (port 30000, the Docker socket,
the three variables, here with throwaway values) and must pass a deploy candidate's checks;
only then is it pushed, with the local engine's own credentials (`docker login`: nothing here
keeps a password), and named by its digest, which no later push can change.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import docker
import docker.errors

from dtma.contract import INSTANCE_HEADER
from tasks.errors import DeployError, VerifyFailed
from tasks.steps.agent_checks import check_agent
from tasks.steps.build import LOCAL, BuiltImage

NOT_PUSHED = "nothing was pushed"
AUTH_WORDS = ("unauthorized", "authentication required", "no basic auth", "denied", "forbidden")
CHECK_PREFIX = "dtma-publish-check-"
LAYER_DONE = {"Pushed": "sent", "Layer already exists": "already there", "Mounted from": "mounted"}
AGENT_PORT = "30000/tcp"


@dataclass(frozen=True)
class Target:
    """Where the image goes: REGISTRY/REPO and a tag."""

    repository: str
    tag: str

    @property
    def registry(self) -> str:
        """The registry host (Docker Hub when the first part names no host)."""
        first, _, rest = self.repository.partition("/")
        looks_like_host = "." in first or ":" in first or first == "localhost"
        return first if rest and looks_like_host else "docker.io"


def parse_target(text: str, default_tag: str) -> Target:
    """REGISTRY/REPO[:TAG]; a digest is refused (the registry names the digest, not us)."""
    text = text.strip()
    if not text or "@" in text or not re.fullmatch(r"[A-Za-z0-9._:/-]+", text):
        raise ValueError(f"--to {text!r} is not REGISTRY/REPO[:TAG] (e.g. ghcr.io/me/dtma)")
    name, colon, tag = text.rpartition(":")
    if colon and "/" not in tag:  # a tag, not the port of REGISTRY:PORT/REPO
        return Target(name.lower(), tag)
    return Target(text.lower(), default_tag)


@dataclass(frozen=True)
class Published:
    target: Target
    digest: str  # sha256:…

    @property
    def reference(self) -> str:
        """What droplets pull: immutable, unlike a tag."""
        return f"{self.target.repository}@{self.digest}"

    @property
    def agentopia_line(self) -> str:
        """Agentopia's backend reads DTMA_DOCKER_IMAGE_URL from its Supabase secrets."""
        return f"supabase secrets set DTMA_DOCKER_IMAGE_URL={self.reference}"


def _alive(container) -> None:
    container.reload()
    if container.status != "running":
        code = container.attrs["State"].get("ExitCode")
        tail = container.logs(tail=5).decode(errors="replace").strip().splitlines()
        raise VerifyFailed(f"it exited (code {code}): {tail[-1] if tail else 'no log'}")


def check_locally(client: docker.DockerClient, built: BuiltImage, timeout: float) -> None:
    """The image runs here under Agentopia's own run line and passes a candidate's checks."""
    key = "check-" + secrets.token_hex(16)
    environment = {
        "DTMA_BEARER_TOKEN": "check-" + secrets.token_hex(16),
        "BACKEND_TO_DTMA_API_KEY": key,
        "AGENTOPIA_API_BASE_URL": "http://127.0.0.1:9/functions/v1",  # no backend: refused
    }
    try:
        container = client.containers.run(
            built.ref,
            name=CHECK_PREFIX + secrets.token_hex(4),
            detach=True,
            environment=environment,
            ports={AGENT_PORT: ("127.0.0.1", None)},
            volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        )
    except docker.errors.DockerException as exc:
        raise refused_image(f"it does not start: {exc}") from None
    try:
        _alive(container)
        bound = (container.attrs["NetworkSettings"].get("Ports") or {}).get(AGENT_PORT)
        if not bound:
            raise VerifyFailed("port 30000 was not published (did it stop at once?)")
        port = bound[0]["HostPort"]
        report = check_agent(
            f"http://127.0.0.1:{port}",
            backend_key=key,
            version=built.version,
            timeout=timeout,
            alive=lambda: _alive(container),
            port=30000,
        )
        if not report.instance:
            raise VerifyFailed(f"it answers without the {INSTANCE_HEADER} header")
        _alive(container)
    except VerifyFailed as exc:
        raise refused_image(str(exc)) from None
    finally:
        container.remove(force=True)


def refused_image(cause: str) -> DeployError:
    return DeployError(
        LOCAL,
        "publish",
        f"the image fails a candidate's checks when run as Agentopia runs it: {cause}",
        f"fix the image (fab deploy to a sandbox shows more); {NOT_PUSHED}",
    )


def registry_refused(target: Target, message: str) -> DeployError:
    said = message.strip().splitlines()[-1] if message.strip() else "no reason given"
    if any(word in said.lower() for word in AUTH_WORDS):
        return DeployError(
            LOCAL,
            "publish",
            f"registry {target.registry} refused the push: {said}",
            f"log this machine's engine in: docker login {target.registry}; {NOT_PUSHED} there",
        )
    return DeployError(
        LOCAL,
        "publish",
        f"cannot push to registry {target.registry}: {said}",
        "check the address, the network, and that this machine trusts its certificate "
        f"(/etc/docker/certs.d/{target.registry}/ca.crt for a private CA)",
    )


def layer_said(event: dict) -> str:
    """What a push event says of a layer it is done with ("" for progress and the rest)."""
    status = str(event.get("status") or "")
    return next((word for start, word in LAYER_DONE.items() if status.startswith(start)), "")


def push(client: docker.DockerClient, built: BuiltImage, target: Target) -> Published:
    """Tag and push with the engine's own credentials; the digest the registry gave. Each
    layer is said as it is done (a push up a slow uplink takes a while)."""
    client.images.get(built.image_id).tag(target.repository, target.tag)
    print(f"local: pushing {target.repository}:{target.tag} ({len(built.diff_ids)} layers)")
    digest, done = "", 0
    try:
        for event in client.api.push(target.repository, target.tag, stream=True, decode=True):
            if event.get("error"):
                raise registry_refused(target, str(event["error"]))
            if said := layer_said(event):
                done += 1
                print(f"local: layer {done}/{len(built.diff_ids)} {said}", flush=True)
            digest = (event.get("aux") or {}).get("Digest", digest)
    except docker.errors.APIError as exc:
        raise registry_refused(target, str(exc.explanation or exc)) from None
    if not digest:
        raise registry_refused(target, "the push ended without a digest")
    return Published(target, digest)
