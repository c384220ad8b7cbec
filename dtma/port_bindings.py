"""The port bindings a create request asks for, and what becomes of a binding to a port the
agent keeps for itself.

The agent keeps two host ports: its own (30000) and the check port its next release answers
on while the deploy checks it (DTMA_CHECK_PORT, 30001 by default). A tool holding the check
port would be taken for the next release and handed the deploy's credentials. Agentopia's
start path re-deploys a missing tool with `HostPort: "30000"`, which can never be granted
either. Such a binding is published on a free port Docker picks instead, and the answer's
`warnings` name the change with the real binding.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from dtma.models import CreateToolRequest

Bindings = dict[str, list[dict[str, str]]]
# The deploy's default check port (tasks/settings.py `candidate_port`): kept even by an agent
# that was not started in handover mode, since its next release will use it.
DEFAULT_CHECK_PORT = 30001


@dataclass
class RequestedBindings:
    bindings: Bindings = field(default_factory=dict)
    moved: dict[str, list[int]] = field(default_factory=dict)  # "8080/tcp" -> reserved ports asked

    def warnings(self, published: Bindings) -> list[str]:
        """One line per binding moved off a reserved port, naming where it went."""
        lines = []
        for key, ports in self.moved.items():
            where = ", ".join(
                f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}"
                for b in published.get(key, [])
            )
            asked = ", ".join(map(str, ports))
            lines.append(
                f"{key}: host port {asked} is kept for the agent (its own port and its next "
                f"release's check port); published on {where or 'a port Docker picked'} instead"
            )
        return lines


def reserved_ports(agent_port: int, check_port: int | None) -> frozenset[int]:
    return frozenset({agent_port, check_port or DEFAULT_CHECK_PORT, DEFAULT_CHECK_PORT})


def requested_bindings(request: CreateToolRequest, reserved: Collection[int]) -> RequestedBindings:
    override = request.baseConfigOverrideJson
    raw = override.HostConfig.PortBindings if override and override.HostConfig else None
    result = RequestedBindings()
    for key, targets in (raw or {}).items():
        port, _, proto = key.partition("/")  # the model admits ports 1-65535 only
        container_port = f"{int(port)}/{proto or 'tcp'}"
        bindings = []
        for target in targets:
            host_port = target.HostPort
            if host_port and int(host_port) in reserved:
                moved = result.moved.setdefault(container_port, [])
                if int(host_port) not in moved:
                    moved.append(int(host_port))
                host_port = ""  # Docker picks a free one
            bindings.append({"HostIp": target.HostIp, "HostPort": host_port})
        result.bindings[container_port] = bindings
    return result
