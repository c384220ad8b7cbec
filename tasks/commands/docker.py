"""Docker on the host: containers, images, and what `ship` asks the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tasks.commands.shell import Argv, chain, or_true, silenced
from tasks.identity import INSPECT_FORMAT

LOG_OPTS = ["--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3"]
DOCKER_SOCK = "/var/run/docker.sock:/var/run/docker.sock"
# On the agents that can share the public port with their successor during a handover.
HANDOVER_LABEL = "dtma.handover"


def inspect(name: str) -> Argv:
    return ["docker", "container", "inspect", name]


def create(
    name: str,
    image: str,
    *,
    env_file: str,
    publish: str,
    labels: Mapping[str, str] | None = None,
    restart: str = "unless-stopped",
) -> Argv:
    """The agent's container: env file, published port, Docker socket, bounded logs."""
    argv = ["docker", "create", "--name", name, "--restart", restart, "--env-file", env_file]
    argv += ["-p", publish, "-v", DOCKER_SOCK, *LOG_OPTS]
    for key, value in sorted((labels or {}).items()):
        argv += ["--label", f"{key}={value}"]
    return [*argv, image]


def create_agent(
    name: str,
    image: str,
    *,
    env_file: str,
    check_port: int,
    labels: Mapping[str, str] | None = None,
) -> Argv:
    """The agent's container on the host's own network, not yet promoted (`--restart no`): it
    answers on 127.0.0.1:`check_port` only, and takes the public port (shared with the agent it
    replaces, SO_REUSEPORT) once promoted. See steps/handover.py."""
    argv = ["docker", "create", "--name", name, "--restart", "no", "--network", "host"]
    argv += ["--env-file", env_file, "-e", f"DTMA_CHECK_PORT={check_port}"]
    argv += ["-v", DOCKER_SOCK, *LOG_OPTS]
    every = {**(labels or {}), "dtma.role": "agent", HANDOVER_LABEL: "reuseport"}
    for key, value in sorted(every.items()):
        argv += ["--label", f"{key}={value}"]
    return [*argv, image]


def create_forwarder(name: str, image: str, labels: Mapping[str, str], port: int) -> Argv:
    """A container that keeps `name` (and so every `--link name:alias` to it) reaching the agent
    on the host's network: it relays port `port` of its bridge address to the host's."""
    argv = ["docker", "create", "--name", name, "--restart", "always"]
    argv += ["-e", f"DTMA_FORWARD_PORT={port}", "-e", f"DTMA_FORWARD_TARGET=gateway:{port}"]
    argv += [*LOG_OPTS]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    return [*argv, image, "/opt/venv/bin/python", "-m", "dtma.forwarder"]


def set_restart(name: str, policy: str) -> Argv:
    return ["docker", "update", "--restart", policy, name]


def signal(name: str, signal_name: str) -> Argv:
    """Signal the container's main process from inside: `docker kill --signal` would also mark
    the container stopped by hand, and `unless-stopped` would then not start it after a reboot."""
    return ["docker", "exec", name, "sh", "-c", f"kill -{signal_name} 1"]


def start(name: str) -> Argv:
    return ["docker", "start", name]


def stop(name: str, timeout: int = 10) -> Argv:
    return ["docker", "stop", "--time", str(timeout), name]


def stop_for_good(name: str) -> Argv:
    """Stop it, then keep it stopped across engine restarts. In this order: a policy update
    that lands while a crash-looping container is between two runs is refused ("cannot update
    a stopped container"), while a container stopped by hand takes it."""
    return chain(stop(name), set_restart(name, "no"))


def rename(old: str, new: str) -> Argv:
    return ["docker", "rename", old, new]


def remove(name: str) -> Argv:
    return ["docker", "rm", "--force", name]


def remove_if_present(name: str) -> Argv:
    """Remove a container, quietly succeeding when it does not exist."""
    return or_true(silenced(remove(name)))


def restart(name: str) -> Argv:
    return ["docker", "restart", name]


def logs(name: str, tail: int = 50, follow: bool = False) -> Argv:
    return ["docker", "logs", "--tail", str(tail), *(["--follow"] if follow else []), name]


def healthcheck_exec(name: str, test: Sequence[str], timeout: float) -> Argv | None:
    """The image's HEALTHCHECK test, run in the container now the way Docker runs it (exec;
    CMD-SHELL through /bin/sh -c), bounded like Docker bounds it; None when there is none."""
    if len(test) < 2 or test[0] not in ("CMD", "CMD-SHELL"):
        return None
    argv = list(test[1:]) if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    return ["timeout", f"{timeout:g}", "docker", "exec", name, *argv]


def image_identity(ref: str) -> Argv:
    """Prints what a fingerprint reads of `ref` (tasks/identity.py); fails when it is missing."""
    return ["docker", "image", "inspect", "--format", INSPECT_FORMAT, ref]


def list_images(repository: str) -> Argv:
    return [
        "docker",
        "image",
        "ls",
        repository,
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}} {{.CreatedAt}}",
    ]


def remove_image(ref: str) -> Argv:
    return ["docker", "image", "rm", ref]


def pull(ref: str) -> Argv:
    """Pull `ref` (by digest: what was pushed, whatever a tag says now), printing only its name."""
    return ["docker", "pull", "--quiet", ref]


def tag(image: str, ref: str) -> Argv:
    return ["docker", "tag", image, ref]


def engine_info() -> Argv:
    """The storage driver and its status: tells the classic image store from containerd's."""
    return ["docker", "info", "--format", "{{.Driver}}|{{json .DriverStatus}}"]
