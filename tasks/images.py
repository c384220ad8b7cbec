"""The agent's image: pick a base that exists here, version the source, build with the SDK."""

from __future__ import annotations

import collections
import hashlib
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import docker
import docker.models.images
from docker.utils import parse_repository_tag

from tasks.rootfs import RootfsBuildFailed, ensure_rootfs_image, image_exists

LOCAL_BASE = "dtma-local-base:bookworm"
DEFAULT_BASE = "python:3.12-slim"
PIP_CERT = "/etc/ssl/certs/ca-certificates.crt"
LOCAL_BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
LOCAL_BASE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    # pip in a build trusts the host's bundle (which holds any TLS-intercepting proxy's CA).
    f"ENV PIP_CERT={PIP_CERT}",
    'CMD ["python3"]',
)
# Not needed to run Python programs; about 100 MB (apt-get update brings the lists back).
LOCAL_BASE_PRUNE = ("var/lib/apt/lists", "usr/share/doc", "usr/share/locale", "usr/share/man")


# Builder bookkeeping lines, of no help in an error message.
NOISE = ("--->", "Removing intermediate container")


class ImageBuildFailed(RuntimeError):
    """The image did not build; the message names the failing step and its last output lines."""


def ensure_local_base(client: docker.DockerClient | None = None, *, quiet: bool = False) -> str:
    """A python3 base made from Debian's mirror (debootstrap + import), built once, then reused."""
    return ensure_rootfs_image(
        client or docker.from_env(),
        LOCAL_BASE,
        packages=LOCAL_BASE_PACKAGES,
        changes=LOCAL_BASE_CHANGES,
        prune=LOCAL_BASE_PRUNE,
        quiet=quiet,
    )


def resolve_base_image(
    requested: str | None, client: docker.DockerClient, *, quiet: bool = False
) -> str:
    """`requested` (default python:3.12-slim) if present or pullable, else the local base."""
    wanted = requested or DEFAULT_BASE
    if image_exists(client, wanted):
        return wanted
    try:
        client.images.pull(wanted)
        return wanted
    except docker.errors.DockerException as exc:
        reason = (getattr(exc, "explanation", None) or str(exc)).splitlines()[0][:120]
    if not quiet:
        print(f"base image {wanted} cannot be pulled ({reason}); using {LOCAL_BASE}", flush=True)
    return ensure_local_base(client, quiet=quiet)


def _git(context: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(context), *args], capture_output=True, check=False)


def source_version(context: Path) -> str:
    """`<short sha>`, `<short sha>-dirty.<8 hex>` (hash of the uncommitted changes), or
    `unversioned` outside git (or before the first commit)."""
    head = _git(context, "rev-parse", "--short", "HEAD")
    if head.returncode != 0:
        return "unversioned"
    sha = head.stdout.decode().strip()
    changed = _git(context, "status", "--porcelain", "--untracked-files=all", "--", ".")
    if not changed.stdout.strip():
        return sha
    digest = hashlib.sha256(_git(context, "diff", "HEAD", "--binary", "--", ".").stdout)
    untracked = _git(context, "ls-files", "--others", "--exclude-standard", "-z", "--", ".")
    for name in sorted(filter(None, untracked.stdout.split(b"\0"))):
        digest.update(name)
        path = context / name.decode()
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{sha}-dirty.{digest.hexdigest()[:8]}"


def _revision(context: Path) -> str:
    head = _git(context, "rev-parse", "HEAD")
    return head.stdout.decode().strip() if head.returncode == 0 else "unknown"


def _source_date(context: Path) -> datetime:
    """The commit time of HEAD (now outside git): the same source builds the same image id,
    which is how a redeploy of an unchanged tree is recognised (reproducible-builds practice,
    as SOURCE_DATE_EPOCH)."""
    stamp = _git(context, "log", "-1", "--format=%ct").stdout.decode().strip()
    return datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else datetime.now(UTC)


def build_args(context: Path, version: str, base_image: str) -> dict[str, str]:
    return {
        "BASE_IMAGE": base_image,
        "DTMA_VERSION": version,
        "VCS_REF": _revision(context),
        "BUILD_DATE": _source_date(context).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def build_agent_image(
    context: Path = Path("."),
    dockerfile: str = "Dockerfile",
    *,
    tags: list[str],
    version: str,
    base_image: str | None = None,
    platform: str | None = None,
    quiet: bool = False,
) -> docker.models.images.Image:
    """Build the agent image from `context` and tag it with every tag in `tags`.

    Prints the build's steps as they run (unless quiet); raises ImageBuildFailed with the failing
    step and its last output lines.
    """
    if not tags:
        raise ValueError("build_agent_image needs at least one tag")
    try:
        client = docker.from_env()
        base = resolve_base_image(base_image, client, quiet=quiet)
        image_id = _stream_build(
            client, context, dockerfile, tags[0], version, base, quiet, platform
        )
        image = client.images.get(image_id)
        for tag in tags[1:]:
            repository, label = parse_repository_tag(tag)
            image.tag(repository, label or "latest")
        return client.images.get(image_id)
    except RootfsBuildFailed as exc:
        raise ImageBuildFailed(f"no base image: {exc}") from None
    except docker.errors.APIError as exc:
        raise ImageBuildFailed(f"image build failed: {exc.explanation}") from None
    except docker.errors.DockerException as exc:
        raise ImageBuildFailed(f"no Docker engine answers ({exc}); run `make engine`") from None


def _stream_build(
    client: docker.DockerClient,
    context: Path,
    dockerfile: str,
    tag: str,
    version: str,
    base: str,
    quiet: bool,
    platform: str | None = None,
) -> str:
    """Run the build, print its steps, return the image id; keep the last lines for errors."""
    recent: collections.deque[str] = collections.deque(maxlen=12)
    step, image_id = "", None
    stream = client.api.build(
        path=str(context),
        dockerfile=dockerfile,
        tag=tag,
        buildargs=build_args(context, version, base),
        rm=True,
        forcerm=True,
        decode=True,
        **({"platform": platform} if platform else {}),
    )
    for chunk in stream:
        if "error" in chunk:
            recent.extend(str(chunk["error"]).strip().splitlines())
            where = f" at {step}" if step else ""
            raise ImageBuildFailed(f"image build failed{where}: " + " | ".join(list(recent)[-6:]))
        image_id = (chunk.get("aux") or {}).get("ID", image_id)
        for line in str(chunk.get("stream", "")).splitlines():
            if line.startswith("Step "):
                step = line.strip()[:100]
                recent.clear()  # keep only what the current step printed
                if not quiet:
                    print(f"  {step}", flush=True)
            elif line.strip() and not line.lstrip().startswith(NOISE):
                recent.append(line.strip())
    if image_id is None:
        raise ImageBuildFailed(f"image build ended without an image id: {' | '.join(recent)}")
    return image_id


def import_once(
    client: docker.DockerClient, tag: str, rootfs: Callable[[], bytes], changes: list[str]
) -> str:
    """`tag` imported from the tar `rootfs()` makes (`docker import`, Dockerfile `changes`),
    unless the engine has it already; returns the tag."""
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    repository, _, version = tag.partition(":")
    client.api.import_image_from_data(
        rootfs(), repository=repository, tag=version or "latest", changes=changes
    )
    return tag
