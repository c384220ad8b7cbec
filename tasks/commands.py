"""Every remote action as data: pure functions returning argv lists.

Tasks run them over SSH with `shell(...)`, which quotes once, at the edge. Nothing here
touches a host, so a plan can be printed and the builders tested without one.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

Argv = list[str]

LOG_OPTS = ["--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3"]
DOCKER_SOCK = "/var/run/docker.sock:/var/run/docker.sock"


def shell(*commands: Sequence[str], sep: str = " && ") -> str:
    """One shell line from argv lists, each quoted with shlex.join."""
    return sep.join(shlex.join(argv) for argv in commands)


def docker_version() -> Argv:
    return ["docker", "version", "--format", "{{.Server.Version}}"]


def disk_free_kib(path: str) -> Argv:
    return ["df", "-Pk", path]


def containers_publishing(port: int) -> Argv:
    return ["docker", "ps", "--filter", f"publish={port}", "--format", "{{.Names}}"]


def listening_on(port: int) -> Argv:
    """Any listener on the port, Docker's or not (`ss` prints nothing when it is free)."""
    return ["ss", "-Hltn", f"sport = :{port}"]


def inspect(name: str) -> Argv:
    return ["docker", "container", "inspect", name]


def healthcheck_exec(name: str, test: Sequence[str], timeout: float) -> Argv | None:
    """The image's HEALTHCHECK test, run in the container now the way Docker runs it (exec;
    CMD-SHELL through /bin/sh -c), bounded like Docker bounds it; None when there is none."""
    if len(test) < 2 or test[0] not in ("CMD", "CMD-SHELL"):
        return None
    argv = list(test[1:]) if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    return ["timeout", f"{timeout:g}", "docker", "exec", name, *argv]


def settle_probe(name: str, settle: float, healthcheck: Argv | None) -> str:
    """Shell line for one round trip: the restart count, then the health check run while the
    stability window elapses (sleep in the background), then the container's state as JSON.

    Prints `restarts=N`, `healthcheck=EXIT|none`, then the inspect JSON.
    """
    count = shlex.join(["docker", "container", "inspect", "--format", "{{.RestartCount}}", name])
    check = (
        f"{shlex.join(healthcheck)} >/dev/null 2>&1; echo healthcheck=$?"
        if healthcheck
        else "echo healthcheck=none"
    )
    return (
        f"echo restarts=$({count}); sleep {settle:.2f} & waiter=$!; {check}; wait $waiter; "
        + shlex.join(inspect(name))
    )


def image_inspect(ref: str) -> Argv:
    return ["docker", "image", "inspect", "--format", "{{.Id}}", ref]


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


def start(name: str) -> Argv:
    return ["docker", "start", name]


def stop(name: str, timeout: int = 10) -> Argv:
    return ["docker", "stop", "--time", str(timeout), name]


def rename(old: str, new: str) -> Argv:
    return ["docker", "rename", old, new]


def remove(name: str) -> Argv:
    return ["docker", "rm", "--force", name]


def remove_if_present(name: str) -> str:
    """Shell line: remove a container, quietly succeeding when it does not exist."""
    return f"{shlex.join(remove(name))} >/dev/null 2>&1 || true"


def restart(name: str) -> Argv:
    return ["docker", "restart", name]


def logs(name: str, tail: int = 50, follow: bool = False) -> Argv:
    return ["docker", "logs", "--tail", str(tail), *(["--follow"] if follow else []), name]


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


def make_private_dir(path: str) -> Argv:
    return ["install", "-d", "-m", "0700", "-o", "root", "-g", "root", path]


def create_private_file(path: str) -> str:
    """Shell line: an empty file that is 0600 from its first moment (umask, not chmod after)."""
    return f"umask 077 && : > {shlex.quote(path)}"


def install_file(tmp: str, final: str) -> Argv:
    """The last step of an atomic write: permissions on the temp file, then one rename."""
    return [
        "sh",
        "-c",
        'chmod 600 "$1" && chown root:root "$1" && mv -f "$1" "$2"',
        "-",
        tmp,
        final,
    ]


def sha256(path: str) -> Argv:
    return ["sha256sum", path]


def take_lock(lock_dir: str) -> str:
    """Shell line: `mkdir` is atomic, so exactly one concurrent deploy gets the lock."""
    parent = lock_dir.rsplit("/", 1)[0] or "/"
    return f"mkdir -p {shlex.quote(parent)} && mkdir {shlex.quote(lock_dir)}"


def read_file(path: str) -> Argv:
    return ["cat", path]


def remove_tree(path: str) -> Argv:
    return ["rm", "-rf", path]


def append_line(path: str, line: str) -> str:
    """Shell line appending one line to a file (for the audit log: no secrets in it)."""
    return f"printf '%s\\n' {shlex.quote(line)} >> {shlex.quote(path)}"
