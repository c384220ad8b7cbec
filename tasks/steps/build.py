"""build: the agent image `dtma:<version>` (+ `dtma:latest`) on this machine, once per run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasks import identity, images
from tasks.errors import DeployError
from tasks.settings import DeploySettings
from tasks.steps.preflight import REPOSITORY

LOCAL = "local"  # how messages name this machine


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    version: str
    image_id: str
    size: int
    diff_ids: tuple[str, ...]
    fingerprint: str = ""  # what both image stores agree the image is (tasks/identity.py)
    platform: str = ""  # e.g. linux/amd64
    healthcheck: tuple[str, ...] = ()  # the image's HEALTHCHECK test, e.g. ("CMD-SHELL", "…")


# What makes two builds the same: context, Dockerfile, source version, base image, platform
# ("" for the local engine's own).
BuildKey = tuple[str, str, str, str | None, str]


def source_version(s: DeploySettings) -> str:
    return images.source_version(Path(s.context).resolve())


def build(
    s: DeploySettings,
    *,
    cache: dict[BuildKey, BuiltImage] | None = None,
    quiet: bool = False,
    platform: str = "",
) -> BuiltImage:
    """Build the image, or take it from `cache` (a run over several hosts builds once).
    `platform` (e.g. linux/arm64): build for it, tagged `dtma:<version>-<arch>`, instead of
    for the local engine's own platform."""
    context = Path(s.context).resolve()
    if not (context / s.dockerfile).is_file():
        raise DeployError(
            LOCAL, "build", f"no {s.dockerfile} in {context}", "check --context and --dockerfile"
        )
    cache = {} if cache is None else cache
    try:
        version = images.source_version(context)
        key = (str(context), s.dockerfile, version, s.base_image, platform)
        if key not in cache:
            arch = f"-{platform.split('/')[1]}" if platform else ""
            ref = f"{REPOSITORY}:{version}{arch}"
            image = images.build_agent_image(
                context,
                s.dockerfile,
                tags=[ref] if platform else [ref, f"{REPOSITORY}:latest"],
                version=version,
                base_image=s.base_image,
                platform=platform or None,
                quiet=quiet,
            )
            cache[key] = BuiltImage(
                ref=ref,
                version=version,
                image_id=image.id,
                size=image.attrs["Size"],
                diff_ids=tuple(image.attrs["RootFS"].get("Layers") or ()),
                fingerprint=identity.fingerprint(image.attrs),
                platform=identity.platform_of(image.attrs),
                healthcheck=tuple(
                    (image.attrs["Config"].get("Healthcheck") or {}).get("Test") or ()
                ),
            )
    except images.ImageBuildFailed as exc:
        raise DeployError(LOCAL, "build", str(exc), "fix the build; no host was touched") from None
    return cache[key]
