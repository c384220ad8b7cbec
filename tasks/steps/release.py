"""release: a candidate checked, then handed the public port (steps/candidate, steps/handover)."""

from __future__ import annotations

import getpass
import socket
import time

from tasks.facts.container import RELEASED_LABEL, ContainerState, read_container
from tasks.runner import Remote
from tasks.settings import DeploySettings
from tasks.steps.candidate import check_candidate
from tasks.steps.handover import Retire, hand_over, handing_over


def release_labels(version: str) -> dict[str, str]:
    """What `fab status` and the next deploy read back from the agent's container."""
    return {
        "dtma.version": version,
        "dtma.revision": version.split("-", 1)[0],
        RELEASED_LABEL: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dtma.deployed_by": f"{getpass.getuser()}@{socket.gethostname()}",
    }


def replace_agent(
    remote: Remote,
    s: DeploySettings,
    image_ref: str,
    version: str,
    *,
    labels: dict[str, str] | None = None,
    keep_as: str = "",
    old: ContainerState | None = None,
) -> float:
    """`image_ref` becomes the agent: checked as a candidate, then handed over. The agent it
    replaces (`old`, default the one named s.container) is kept stopped as `keep_as`, or
    removed. Returns the seconds the handover took."""
    if old is None:
        old = read_container(remote, s.container, step="release")
    with handing_over(remote, s):
        check_candidate(remote, s, image_ref, version, labels or release_labels(version))
        return hand_over(remote, s, Retire(old, keep_as)).seconds
