"""Faults 6 and 7: host problems and bad input. Each is refused with one line naming the host,
the step and what to do, a non-zero exit, and the host exactly as it was.

Covered elsewhere, not repeated here (bench/faults.py lists them in the matrix):
- Docker daemon stopped: tests/deploy/e2e/test_deploy.py::test_two_hosts_then_a_broken_second_host
- env file missing a key: tests/deploy/e2e/test_deploy.py::test_bad_env_file_is_refused_...
- image on the wrong port (3030), image that crashes: ...::test_broken_candidate_never_touches_...
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.support import KEY, TOKEN, env_text, lock_is_free, record
from tests.support.contexts import ROOT, version_of
from tests.support.deploy import FAB, inspect, public_version
from tests.support.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

AUDIT = "/var/log/dtma-deploy.log"


def host_fingerprint(host) -> tuple:
    """What a refused deploy must leave alone: the agent, the env file, the audit log, the lock."""
    state = inspect(host.box, "dtma")
    files = host.sh(f"sha256sum /etc/dtma/dtma.env; wc -l < {AUDIT}").stdout
    return state["Id"], state["State"]["StartedAt"], files, lock_is_free(host.box)


def refused(done: subprocess.CompletedProcess[str], seconds: float, *needles: str) -> str:
    """Non-zero, one `error:` line on stderr saying what matters, no traceback, no secret."""
    assert done.returncode != 0, done.stdout[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), done.stderr[-2000:]
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]]
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    for secret in (TOKEN, KEY):
        assert secret not in done.stdout + done.stderr
    print(f"\n{seconds:.1f} s: {lines[-1]}")
    return lines[-1]


def timed(run: Callable[[], subprocess.CompletedProcess[str]]):
    started = time.monotonic()
    done = run()  # each `fab` run below has a 60 s subprocess timeout: a hang fails the test
    return done, time.monotonic() - started


def fab_with(argv_tail: list[str], host_args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FAB), *host_args, *argv_tail], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def deploy_tail(context: Path, env_file: Path, *extra: str) -> list[str]:
    return ["deploy", "--context", str(context), "--env-file", str(env_file), *extra]


def test_unreachable_host(host, contexts):
    nobody = f"root@127.0.0.1:{free_port()}"
    tail = deploy_tail(contexts["v1"], host.env_file)
    done, seconds = timed(lambda: fab_with(tail, ["-H", nobody, "-i", str(host.box.key_path)]))
    refused(done, seconds, nobody, "preflight failed", "SSH")
    host.smoke()
    record("unreachable host", refused_seconds=round(seconds, 2))


def test_wrong_ssh_key(host, contexts, tmp_path):
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    before = host_fingerprint(host)
    tail = deploy_tail(contexts["v1"], host.env_file)
    done, seconds = timed(lambda: fab_with(tail, ["-H", host.box.host, "-i", str(key)]))
    refused(done, seconds, host.box.host, "preflight failed", "key")
    assert host_fingerprint(host) == before
    host.smoke()
    record("wrong SSH key", refused_seconds=round(seconds, 2))


def test_docker_not_installed(host, contexts):
    before = host_fingerprint(host)
    assert host.sh("mv /usr/bin/docker /usr/bin/docker.fault-hidden").returncode == 0
    try:
        done, seconds = timed(lambda: host.deploy(contexts["v1"]))
    finally:
        assert host.sh("mv /usr/bin/docker.fault-hidden /usr/bin/docker").returncode == 0
    refused(done, seconds, host.box.host, "preflight failed", "no docker command", "install Docker")
    assert host_fingerprint(host) == before
    host.smoke()
    record("Docker not installed", refused_seconds=round(seconds, 2))


def bad_env(tmp_path: Path, kind: str) -> Path:
    """Env files that must be refused. "unreadable": tests run as root, for whom chmod 000
    changes nothing, so a directory stands in (read() fails the same way, EISDIR for EACCES);
    "not UTF-8" is the other way a file exists yet cannot be used."""
    path = tmp_path / f"{kind}.env"
    if kind == "unreadable":
        path.mkdir()
    elif kind == "not UTF-8":
        path.write_bytes(env_text().encode() + b"NOTE=caf\xe9\n")
    elif kind == "empty value":
        path.write_text(
            env_text().replace(f"BACKEND_TO_DTMA_API_KEY={KEY}", "BACKEND_TO_DTMA_API_KEY=")
        )
    return path  # "missing": never created


BAD_INPUT = {
    "missing": ("does not exist",),
    "unreadable": ("cannot be read",),
    "not UTF-8": ("not UTF-8",),
    "empty value": ("missing or empty: BACKEND_TO_DTMA_API_KEY",),
}


@pytest.mark.parametrize("kind", list(BAD_INPUT))
def test_bad_env_file_is_refused(host, contexts, tmp_path, kind):
    before = host_fingerprint(host)
    done, seconds = timed(lambda: host.deploy(contexts["v1"], env_file=bad_env(tmp_path, kind)))
    refused(done, seconds, "preflight failed", "nothing was changed", *BAD_INPUT[kind])
    assert host_fingerprint(host) == before
    host.smoke()
    record(f"env file {kind}", refused_seconds=round(seconds, 2))


def test_flag_value_that_is_not_a_number(host, contexts):
    before = host_fingerprint(host)
    done, seconds = timed(lambda: host.deploy(contexts["v1"], "--verify-timeout", "abc"))
    refused(done, seconds, "verify_timeout", "'abc'", "float")
    assert host_fingerprint(host) == before
    host.smoke()
    record("flag value not a number", refused_seconds=round(seconds, 2))


def test_dockerfile_that_fails_to_build(host, contexts):
    before = host_fingerprint(host)
    done, seconds = timed(lambda: host.deploy(contexts["no-build"]))
    refused(done, seconds, "build failed", "no host was touched")
    assert host_fingerprint(host) == before
    host.smoke()
    record("Dockerfile fails to build", refused_seconds=round(seconds, 2))


def test_crlf_and_odd_values_arrive_intact(host, contexts, tmp_path):
    """CRLF line endings and a quoted value with spaces, quotes, `#` and `=` must WORK."""
    odd = 'a "quoted" value # not a comment = kept'
    text = env_text(DTMA_FAULT_PROBE=f"'{odd}'").replace("\n", "\r\n")
    env_file = tmp_path / "crlf.env"
    env_file.write_bytes(text.encode())
    done = host.deploy(contexts["v2"], env_file=env_file)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    inside = host.sh("docker exec dtma printenv DTMA_FAULT_PROBE").stdout
    assert inside == odd + "\n"
    # The token is compared by digest: its value is never printed, even by a failing test.
    digest = host.sh("docker exec dtma printenv DTMA_BEARER_TOKEN | tr -d '\\n' | sha256sum")
    assert digest.stdout.split()[0] == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert public_version(host.box) == version_of(contexts["v2"])
    assert lock_is_free(host.box)
    host.smoke()
    record("env file with CRLF, quotes, spaces, #")


# Answers 200 with a JSON object to any GET and prints each request's headers to its log: what a
# hostile tool publishing the candidate's check port would do to collect the backend key.
SQUATTER = """
import http.server, json, sys
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print(self.path, dict(self.headers), flush=True)
        body = json.dumps({"status": "ok", "version": "x"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("0.0.0.0", 8000), Answer).serve_forever()
"""


def test_a_tool_publishing_the_check_port_gets_no_credential(host, contexts):
    """Security review row 1: a tool publishes the candidate's check port, so the candidate
    cannot bind it and the tool answers there. `fab deploy` refuses at its preflight; `fab
    rollback` has none: it must refuse before anything with a key is sent, the agent untouched."""
    deployed = host.deploy(contexts["v3"])  # so that there is a previous release to go back to
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    image = inspect(host.box, "dtma")["Config"]["Image"]
    squatter = "dtma-fault-squatter"
    host.sh(f"docker rm -f {squatter}")
    started = host.sh(
        f"docker run -d --name {squatter} -p 30001:8000 --entrypoint /opt/venv/bin/python "
        f"{image} -c '{SQUATTER}'"
    )
    assert started.returncode == 0, started.stderr
    try:
        before = host_fingerprint(host)
        done, seconds = timed(
            lambda: host.fab("rollback", "--env-file", str(host.env_file), timeout=60)
        )
        seen = host.sh(f"docker logs {squatter} 2>&1").stdout
    finally:
        host.sh(f"docker rm -f {squatter}")
    refused(done, seconds, "candidate", "port 30001", "no credential was sent")
    assert "Authorization" not in seen and KEY not in seen and TOKEN not in seen, seen
    assert host_fingerprint(host) == before
    host.smoke()
    record("a tool holds the check port", refused_seconds=round(seconds, 2))
