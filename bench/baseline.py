"""The plain path everybody starts with: build, `docker save | gzip | ssh docker load`, re-run.

`gzip -1` (the fastest level) keeps the baseline at its best on a fast link: on loopback,
compression, not the network, is what it waits for.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

from tasks.sandbox import Sandbox

CONTAINER = "dtma"
REMOTE_ENV_DIR = "/etc/dtma-bench"
REMOTE_ENV = f"{REMOTE_ENV_DIR}/dtma.env"
GZIP_ARGV = ["gzip", "-1"]
STEP_TIMEOUT = 600.0  # a step stuck this long is a failed round, not a hung benchmark


class StepFailed(RuntimeError):
    """One step of a pipeline failed; the message says which and why."""


def build_argv(tag: str, context: Path, base_image: str) -> list[str]:
    base = f"BASE_IMAGE={base_image}"
    return ["docker", "build", "-q", "-t", tag, "--build-arg", base, str(context)]


def save_argv(tag: str) -> list[str]:
    return ["docker", "save", tag]


def release_command(tag: str) -> str:
    """Stop and replace the agent; the first time there is nothing to stop, hence `;` not `&&`."""
    run = [
        "docker", "run", "-d", "--restart", "unless-stopped", "--name", CONTAINER,
        "--env-file", REMOTE_ENV, "-p", "30000:30000",
        "-v", "/var/run/docker.sock:/var/run/docker.sock", tag,
    ]  # fmt: skip
    quiet = ">/dev/null 2>&1"
    return f"docker stop {CONTAINER} {quiet}; docker rm {CONTAINER} {quiet}; {shlex.join(run)}"


def install_env_command() -> str:
    """Reads the env file on stdin: root-only on the host, never on a command line."""
    return (
        f"install -d -m 0700 {REMOTE_ENV_DIR} && umask 077 && cat > {REMOTE_ENV} "
        f"&& chmod 0600 {REMOTE_ENV}"
    )


def run_step(argv: list[str], step: str, stdin=None) -> subprocess.CompletedProcess[str]:
    """Run one step; its failure (or a timeout) becomes StepFailed with the last output lines."""
    try:
        done = subprocess.run(
            argv, stdin=stdin, capture_output=True, text=True, check=False, timeout=STEP_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{step} did not finish within {STEP_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-2:])
        raise StepFailed(f"{step} failed (exit {done.returncode}): {tail}")
    return done


class Baseline:
    """The baseline pipeline against one sandbox droplet, with an image tag of its own."""

    def __init__(self, sandbox: Sandbox, env_file: Path, base_image: str, tag: str) -> None:
        self.sandbox, self.env_file, self.base_image, self.tag = sandbox, env_file, base_image, tag

    def install_env(self) -> None:
        with self.env_file.open("rb") as source:
            run_step(self.sandbox.ssh_argv(install_env_command()), "env file upload", stdin=source)

    def deploy(self, context: Path) -> dict[str, float]:
        """Build, ship, release; return the seconds of each step. Health is the caller's."""
        phases: dict[str, float] = {}
        started = time.monotonic()
        run_step(build_argv(self.tag, context, self.base_image), "docker build")
        phases["build"] = time.monotonic() - started
        started = time.monotonic()
        self._ship()
        phases["ship"] = time.monotonic() - started
        started = time.monotonic()
        run_step(self.sandbox.ssh_argv(release_command(self.tag)), "docker run on the host")
        phases["release"] = time.monotonic() - started
        return phases

    def _ship(self) -> None:
        save = subprocess.Popen(save_argv(self.tag), stdout=subprocess.PIPE)
        gzip = subprocess.Popen(GZIP_ARGV, stdin=save.stdout, stdout=subprocess.PIPE)
        assert save.stdout is not None and gzip.stdout is not None
        save.stdout.close()  # gzip alone holds the pipe now: save gets SIGPIPE if gzip dies
        load = subprocess.run(
            self.sandbox.ssh_argv("docker", "load"),
            stdin=gzip.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        gzip.stdout.close()
        codes = {"docker save": save.wait(), "gzip": gzip.wait(), "docker load": load.returncode}
        failed = [f"{step} (exit {code})" for step, code in codes.items() if code != 0]
        if failed:
            detail = (load.stderr or "").strip().splitlines()[-1:] or [""]
            raise StepFailed(f"save | gzip | ssh load failed: {', '.join(failed)} {detail[0]}")
