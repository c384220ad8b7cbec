"""`fab publish`: the agent image in a registry, for Agentopia's provisioning of new droplets."""

from __future__ import annotations

import docker
from fabric import Connection

from tasks import identity, settings
from tasks.cli.common import host_task
from tasks.cli.executor import rollout_of
from tasks.settings import DeploySettings
from tasks.steps.build import build, source_version
from tasks.steps.publish import check_locally, parse_target, push

DROPLETS_PLATFORM = "linux/amd64"  # DigitalOcean's droplets
HELP = {
    "to": "REGISTRY/REPO[:TAG] to push to (TAG defaults to the version), e.g. "
    "registry.digitalocean.com/team/dtma; credentials: `docker login REGISTRY` beforehand",
    "platform": f"platform to build for (default {DROPLETS_PLATFORM}, the droplets')",
    "verify_timeout": "seconds for the local check's /health (default 60)",
}


@host_task("to", "platform", "context", "dockerfile", "base_image", "verify_timeout", help=HELP)
def publish(c: Connection, s: DeploySettings, to: str | None, platform: str | None) -> None:
    """Build for the droplets, check the image here as Agentopia runs it, push it to a registry;
    print its digest reference and the line that makes Agentopia's new droplets run it."""
    if not to:
        raise settings.SettingsError("give --to REGISTRY/REPO[:TAG], e.g. ghcr.io/me/dtma")
    try:
        target = parse_target(to, source_version(s))
    except ValueError as exc:
        raise settings.SettingsError(str(exc)) from None
    client = docker.from_env()
    wanted = platform or DROPLETS_PLATFORM
    engine = client.version()
    here = f"{engine.get('Os', 'linux')}/{identity.docker_arch(engine.get('Arch', ''))}"
    built = build(s, cache=rollout_of(c).built, platform="" if wanted == here else wanted)
    print(f"built     {built.ref} ({built.platform or wanted})", flush=True)
    check_locally(client, built, s.verify_timeout)
    print("checked   answers as a deploy candidate under Agentopia's run line", flush=True)
    published = push(client, built, target)
    print(f"pushed    {target.repository}:{target.tag}")
    print(f"published {published.reference}")
    print("Agentopia's new droplets run it once its backend has:")
    print(f"  {published.agentopia_line}")
