"""A slower link for a sandbox droplet: a token bucket on the host side of its veth.

The droplet's eth0 is one end of a veth pair; the other end lives on this machine. A `tbf`
qdisc there limits what this machine sends INTO the droplet (the direction a deploy's bytes
go), e.g. to 50 Mbit/s. `netem` does not exist on these machines: a link with latency adds
bench/relay.py's relays on the droplet's SSH and agent ports (DELAYS, seconds each way).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LINKS = {"loopback": None, "50mbit": "50mbit", "50mbit-30ms": "50mbit"}
DELAYS = {"50mbit-30ms": 0.030}
LINK_TITLES = {
    "loopback": "loopback",
    "50mbit": "50 Mbit/s",
    "50mbit-30ms": "50 Mbit/s, 30 ms each way",
}
NET = Path("/sys/class/net")


class ShapingError(RuntimeError):
    """The droplet's veth could not be found or shaped."""


def host_veth(container: str) -> str:
    """The host-side interface of `container`'s eth0 (the one whose ifindex is eth0's iflink)."""
    done = subprocess.run(
        ["docker", "exec", container, "cat", "/sys/class/net/eth0/iflink"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ShapingError(f"{container}: cannot read eth0's iflink: {done.stderr.strip()}")
    index = done.stdout.strip()
    for interface in NET.iterdir():
        try:
            if (interface / "ifindex").read_text().strip() == index:
                return interface.name
        except OSError:
            continue
    raise ShapingError(f"{container}: no interface on this machine has ifindex {index}")


def shape(container: str, rate: str) -> str:
    """Limit what reaches `container` to `rate` (a tc rate: "50mbit"); returns the veth."""
    veth = host_veth(container)
    argv = ["tc", "qdisc", "replace", "dev", veth, "root", "tbf", "rate", rate]
    argv += ["burst", "32kbit", "latency", "400ms"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ShapingError(f"{container}: `{' '.join(argv)}` failed: {done.stderr.strip()}")
    return veth


def unshape(container: str) -> None:
    """Back to the full speed of the veth (nothing to do when the droplet is gone)."""
    try:
        veth = host_veth(container)
    except ShapingError:
        return
    subprocess.run(["tc", "qdisc", "del", "dev", veth, "root"], capture_output=True, check=False)


def apply_link(container: str, link: str) -> None:
    """Put `container` on `link`'s rate ("loopback": unshaped, "50mbit": 50 Mbit/s into it);
    its delay, if any, is bench/relay.py's."""
    if link not in LINKS:
        raise ShapingError(f"unknown link {link!r}; choose from {', '.join(LINKS)}")
    rate = LINKS[link]
    if rate is None:
        unshape(container)
    else:
        shape(container, rate)


LOOPBACK = "lo"


@contextmanager
def operator_uplink(rate: str) -> Iterator[None]:
    """The operator's uplink at `rate`: a token bucket on this machine's loopback, which carries
    what `fab` sends the droplets (through Docker's port proxy) and what the local engine pushes
    to a registry on this machine; droplets reach that registry over the bridge, unshaped.
    (Loopback packets are up to 64 KB: the bucket holds several.)"""
    argv = ["tc", "qdisc", "replace", "dev", LOOPBACK, "root", "tbf", "rate", rate]
    done = subprocess.run(
        [*argv, "burst", "256kb", "latency", "400ms"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise ShapingError(f"cannot shape {LOOPBACK}: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", LOOPBACK, "root"], capture_output=True)


def uplink_bytes() -> int:
    """Bytes sent over loopback so far (both directions of every local connection)."""
    return int((NET / LOOPBACK / "statistics" / "tx_bytes").read_text())
