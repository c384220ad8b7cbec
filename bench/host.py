"""Looking at a sandbox droplet from outside: its network counters, and a /health probe inside it.

The probe runs INSIDE the droplet (`docker exec`, talking to 127.0.0.1:30000 over the droplet's
loopback) so that its own requests never cross the droplet's eth0, whose counters measure the
bytes a deploy puts on the wire.
"""

from __future__ import annotations

import shlex
import subprocess
import threading
from dataclasses import dataclass

from bench.stats import Probe
from tests.support.readiness import wait_until_healthy

COUNTERS = "/sys/class/net/eth0/statistics"
PROBE_SCRIPT = r"""
import http.client, sys, threading, time
port, interval, limit = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
deadline = time.monotonic() + limit
while not stop.is_set() and time.monotonic() < deadline:
    at = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
        conn.request("GET", "/health")
        ok = conn.getresponse().status == 200
        conn.close()
    except Exception:
        ok = False
    print(f"{at:.4f} {int(ok)}", flush=True)
    stop.wait(max(0.0, interval - (time.monotonic() - at)))
"""


SSH_RULE = [
    "INPUT",
    "-i",
    "eth0",
    "-p",
    "tcp",
    "--dport",
    "22",
    "-m",
    "comment",
    "--comment",
    "dtma-bench-ssh",
]
ETHERNET_HEADER = 14  # eth0's rx_bytes counts it, iptables (IP packets) does not


@dataclass(frozen=True)
class Counters:
    """Received by the droplet's eth0 so far: all bytes (frames), and those that were SSH."""

    rx_bytes: int
    ssh_bytes: int | None  # None: the droplet has no iptables counting rule

    def __sub__(self, earlier: Counters) -> Counters:
        ssh = None
        if self.ssh_bytes is not None and earlier.ssh_bytes is not None:
            ssh = self.ssh_bytes - earlier.ssh_bytes
        return Counters(self.rx_bytes - earlier.rx_bytes, ssh)


def count_ssh_argv(container: str) -> list[str]:
    """A rule with no target: it only counts the SSH packets coming in (added once)."""
    rule = shlex.join(SSH_RULE)
    return [
        "docker",
        "exec",
        container,
        "sh",
        "-c",
        f"iptables -w -C {rule} 2>/dev/null || iptables -w -I {rule}",
    ]


def counter_argv(container: str) -> list[str]:
    script = f"cat {COUNTERS}/rx_bytes; iptables -w -L INPUT -v -x -n 2>/dev/null || true"
    return ["docker", "exec", container, "sh", "-c", script]


def parse_counters(text: str) -> Counters:
    """First line: rx_bytes; then `iptables -L -v -x` output, whose counting rule has
    `pkts bytes` first: SSH frames are those bytes plus one Ethernet header a packet."""
    lines = text.splitlines()
    ssh = None
    for line in lines[1:]:
        if "dtma-bench-ssh" in line:
            packets, size = (int(word) for word in line.split()[:2])
            ssh = size + ETHERNET_HEADER * packets
    return Counters(int(lines[0]), ssh)


def count_ssh(container: str) -> None:
    subprocess.run(count_ssh_argv(container), capture_output=True, check=False)


def read_counters(container: str) -> Counters:
    done = subprocess.run(counter_argv(container), capture_output=True, text=True, check=True)
    return parse_counters(done.stdout)


def probe_argv(container: str, port: int, interval: float, limit: float) -> list[str]:
    return [
        "docker", "exec", "-i", container,
        "python3", "-u", "-c", PROBE_SCRIPT, str(port), str(interval), str(limit),
    ]  # fmt: skip


def parse_probe_line(line: str) -> Probe | None:
    """`"<monotonic seconds> <1|0>"` -> Probe; anything else (a stray warning) -> None."""
    words = line.split()
    if len(words) != 2 or words[1] not in ("0", "1"):
        return None
    try:
        return Probe(at=float(words[0]), ok=words[1] == "1")
    except ValueError:
        return None


class HealthProbe:
    """Polls the agent's /health inside a droplet every `interval` seconds while in a `with`."""

    def __init__(self, container: str, port: int = 30000, interval: float = 0.05, limit=1800.0):
        self.argv = probe_argv(container, port, interval, limit)
        self.timeline: list[Probe] = []
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._first = threading.Event()

    def __enter__(self) -> HealthProbe:
        self._process = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._first.wait(15):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the health probe did not start ({self.argv[3]}: python3 missing?)")
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            probe = parse_probe_line(line)
            if probe is not None:
                self.timeline.append(probe)
                self._first.set()

    def __exit__(self, *exc_info) -> None:
        process = self._process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # EOF reaches the script through `docker exec -i`: it stops
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._process = None


def wait_for_health(url: str, timeout: float = 120.0) -> float:
    """Poll `url`/health from this machine until it answers 200; return the monotonic time then."""
    return wait_until_healthy(url, deadline=timeout)
