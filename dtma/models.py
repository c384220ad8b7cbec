"""Request and response models: the OpenAPI document generated from these IS the contract."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dtma.names import MAX_NAME_LENGTH, VISIBLE_PATTERN, name_problem

StatusWord = Literal["healthy", "degraded", "misconfigured"]
BackendStatus = Literal["running", "stopped", "pending", "starting", "stopping", "error"]
# A port number 1-65535 (leading zeros allowed, as Docker allows them), as a regular expression
# so that the OpenAPI document states the range too.
PORT = r"0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
PortKey = Annotated[str, Field(pattern=rf"^{PORT}(/(tcp|udp|sctp))?$")]
EnvEntry = Annotated[str, Field(pattern=r"^[^=\s]+=", max_length=32768)]


class ErrorBody(BaseModel):
    error: str
    missing: list[str] | None = None
    request_id: str | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class PublicToolInstance(BaseModel):
    """Exactly what the backend's tool list reads, plus the instance id."""

    account_tool_instance_id: str
    instance_name_on_toolbox: str = Field(description="the name as the user typed it")
    container_id: str
    status: BackendStatus = Field(description="the backend's word for the container's state")
    image: str
    created: int = Field(description="container creation time, Unix seconds")


class PublicStatus(BaseModel):
    status: StatusWord
    service: Literal["DTMA"] = "DTMA"
    version: str
    dtma_version: str
    uptime_seconds: float
    missing: list[str] | None = Field(None, description="names of unset variables")
    invalid: list[str] | None = Field(None, description="names of variables with bad values")
    reason: str | None = Field(None, description="why the status is degraded")
    tool_instances: list[PublicToolInstance]


class Environment(BaseModel):
    hasAuthToken: bool
    hasApiKey: bool
    hasApiBaseUrl: bool
    port: int


class Memory(BaseModel):
    total_bytes: int
    used_bytes: int
    free_bytes: int


class Disk(Memory):
    mount: str


class SystemMetrics(BaseModel):
    cpu_load_percent: float
    memory: Memory
    disk: Disk
    uptime_seconds: float


class PortMapping(BaseModel):
    HostIp: str = ""
    HostPort: str = ""


class ToolInstance(PublicToolInstance):
    container_name: str = Field(description="the Docker container name derived from the name")
    docker_state: str = Field(description="Docker's own word: created, exited, paused, ...")
    ports: dict[str, list[PortMapping]]


class FullStatus(PublicStatus):
    environment: Environment
    system_metrics: SystemMetrics
    tool_instances: list[ToolInstance]


class ToolList(BaseModel):
    tool_instances: list[ToolInstance]


class ToolAnswer(BaseModel):
    container_id: str
    container_name: str
    instance_name_on_toolbox: str
    account_tool_instance_id: str
    image: str
    ports: dict[str, list[PortMapping]]
    status: BackendStatus
    state: str = Field(description="Docker's own word for the container's state")


class CreatedTool(ToolAnswer):
    warnings: list[str] = Field(description="what was changed from the request, and why")


class DeletedTool(BaseModel):
    deleted: Literal[True] = True
    instance_name_on_toolbox: str
    container_id: str


class PortBindingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    HostIp: str = Field(
        "",
        max_length=45,
        description="an IPv4 or IPv6 address; empty: all",
        json_schema_extra={"anyOf": [{"const": ""}, {"format": "ipv4"}, {"format": "ipv6"}]},
    )
    HostPort: str = Field("", pattern=rf"^({PORT})?$", description="empty: Docker picks one")

    @field_validator("HostIp")
    @classmethod
    def _an_ip_address(cls, value: str) -> str:
        # `ipaddress` is strict: 127.1, 0177.0.0.1 and "." (which Docker reads as "everywhere")
        # are not addresses.
        if value:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError("not an IP address") from None
        return value


# Keys other than "<port>[/proto]" are refused; the schema says so too (for fuzzers and clients).
PortBindingMap = Annotated[
    dict[PortKey, list[PortBindingRequest]],
    Field(json_schema_extra={"additionalProperties": False}),
]


class HostConfigOverride(BaseModel):
    # Only port bindings are honoured; any other key is refused by name, never dropped silently.
    model_config = ConfigDict(extra="forbid")
    PortBindings: PortBindingMap | None = None


class ConfigOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Env: list[EnvEntry] | None = Field(None, description='"KEY=value" strings')
    HostConfig: HostConfigOverride | None = None


class CreateToolRequest(BaseModel):
    dockerImageUrl: str = Field(
        max_length=512,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._/:@+-]*$",
        description="image reference, e.g. ghcr.io/org/tool:1.2",
    )
    instanceNameOnToolbox: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        pattern=VISIBLE_PATTERN,
        description="any name a user types; the container gets a Docker-safe name derived from it",
    )
    accountToolInstanceId: str = Field(min_length=1, max_length=128, pattern=VISIBLE_PATTERN)
    baseConfigOverrideJson: ConfigOverride | None = None

    @field_validator("instanceNameOnToolbox")
    @classmethod
    def _a_usable_name(cls, value: str) -> str:
        if problem := name_problem(value):
            raise ValueError(problem)
        return value
