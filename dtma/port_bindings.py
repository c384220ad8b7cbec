"""The port bindings a create request asks for, and what becomes of a binding to the agent's port.

Agentopia's start path re-deploys a missing tool with `HostPort: "30000"`: the agent's own port,
which can never be granted. Such a binding is published on a free port Docker picks instead, and
the answer's `warnings` name the change with the real binding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dtma.models import CreateToolRequest

Bindings = dict[str, list[dict[str, str]]]


@dataclass
class RequestedBindings:
    bindings: Bindings = field(default_factory=dict)
    moved_off_agent_port: list[str] = field(default_factory=list)  # container ports, "8080/tcp"

    def warnings(self, agent_port: int, published: Bindings) -> list[str]:
        """One line per binding moved off the agent's port, naming where it went."""
        lines = []
        for key in self.moved_off_agent_port:
            where = ", ".join(
                f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}"
                for b in published.get(key, [])
            )
            lines.append(
                f"{key}: host port {agent_port} is the agent's own port; "
                f"published on {where or 'a port Docker picked'} instead"
            )
        return lines


def requested_bindings(request: CreateToolRequest, agent_port: int) -> RequestedBindings:
    override = request.baseConfigOverrideJson
    raw = override.HostConfig.PortBindings if override and override.HostConfig else None
    result = RequestedBindings()
    for key, targets in (raw or {}).items():
        port, _, proto = key.partition("/")  # the model admits ports 1-65535 only
        container_port = f"{int(port)}/{proto or 'tcp'}"
        bindings = []
        for target in targets:
            host_port = target.HostPort
            if host_port and int(host_port) == agent_port:
                host_port = ""  # Docker picks a free one
                if container_port not in result.moved_off_agent_port:
                    result.moved_off_agent_port.append(container_port)
            bindings.append({"HostIp": target.HostIp, "HostPort": host_port})
        result.bindings[container_port] = bindings
    return result
