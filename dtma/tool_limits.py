"""What one tool container may take of the droplet, and how many a droplet runs.

Every tool gets a memory cap (no swap beyond it), a process cap, rotated json-file logs and
`no-new-privileges`; a request may bind at most `max_ports` host ports, and a droplet runs at most
`max_tools` tools. Each is set from the agent's environment (its env file), defaults below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024
# variable -> (field, default)
VARIABLES = {
    "DTMA_TOOL_MEMORY_MB": ("memory_mb", 1024),
    "DTMA_TOOL_PIDS": ("pids", 512),
    "DTMA_TOOL_LOG_MB": ("log_mb", 10),
    "DTMA_MAX_TOOLS": ("max_tools", 50),
    "DTMA_MAX_TOOL_PORTS": ("max_ports", 16),
}


@dataclass(frozen=True)
class ToolLimits:
    memory_mb: int = 1024
    pids: int = 512
    log_mb: int = 10
    max_tools: int = 50
    max_ports: int = 16

    @classmethod
    def from_env(cls, env: Mapping[str, str], invalid: list[str]) -> ToolLimits:
        """Whole numbers above 0; a bad one keeps its default and is named in `invalid`."""
        values: dict[str, int] = {}
        for variable, (name, default) in VARIABLES.items():
            raw = env.get(variable, "").strip()
            if not raw:
                continue
            if raw.isdigit() and int(raw) > 0:
                values[name] = int(raw)
            else:
                invalid.append(variable)
            values.setdefault(name, default)
        return cls(**values)

    def host_config(self) -> dict[str, Any]:
        """The HostConfig keys that bound one tool."""
        return {
            "Memory": self.memory_mb * MB,
            "MemorySwap": self.memory_mb * MB,  # no swap beyond the cap
            "PidsLimit": self.pids,
            "LogConfig": {
                "Type": "json-file",
                "Config": {"max-size": f"{self.log_mb}m", "max-file": "3"},
            },
            "SecurityOpt": ["no-new-privileges"],
        }

    def ports_problem(self, bindings: Mapping[str, list[Any]]) -> str | None:
        count = sum(len(targets) or 1 for targets in bindings.values())
        if count > self.max_ports:
            return (
                f"{count} port bindings asked, at most {self.max_ports} "
                "(DTMA_MAX_TOOL_PORTS in the agent's env file)"
            )
        return None
