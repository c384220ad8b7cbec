"""What `docker inspect` must show for the agent's container. Pure: argv in, problems out."""

from __future__ import annotations

from typing import Any

RESTARTING_POLICIES = ("unless-stopped", "always")
DOCKER_SOCKET = "/var/run/docker.sock"


def inspect_argv(container: str) -> list[str]:
    return ["docker", "inspect", "--type", "container", container]


def ssh_target(value: str) -> tuple[str | None, str, int]:
    """`user@host[:port]` -> (user, host, port); the port defaults to 22."""
    user, _, rest = value.rpartition("@")
    host, _, port = rest.partition(":")
    return (user or None), host, int(port) if port else 22


def container_problems(inspected: dict[str, Any], port: int = 30000) -> list[str]:
    """Why the container would not survive a crash or a reboot, or could not do its job."""
    host_config = inspected.get("HostConfig") or {}
    problems = []
    policy = (host_config.get("RestartPolicy") or {}).get("Name") or "no"
    if policy not in RESTARTING_POLICIES:
        problems.append(
            f"restart policy is {policy!r}: after a crash or a reboot it stays down "
            f"(run it with --restart unless-stopped)"
        )
    mounts = inspected.get("Mounts") or []
    if not any(m.get("Destination") == DOCKER_SOCKET for m in mounts):
        problems.append(f"{DOCKER_SOCKET} is not mounted: the agent cannot manage tool containers")
    bindings = (host_config.get("PortBindings") or {}).get(f"{port}/tcp") or []
    published = {str(b.get("HostPort")) for b in bindings}
    if host_config.get("NetworkMode") != "host" and str(port) not in published:
        shown = ", ".join(sorted(published)) or "nothing"
        problems.append(
            f"port {port} is not published on the host ({port}/tcp -> {shown}): "
            "the backend always calls port 30000"
        )
    if (inspected.get("State") or {}).get("Status") != "running":
        problems.append(f"the container is {(inspected.get('State') or {}).get('Status')!r}")
    return problems
