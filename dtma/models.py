"""Request and response models: the OpenAPI document generated from these IS the contract."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from dtma.names import NAME_PATTERN

StatusWord = Literal["healthy", "degraded", "misconfigured"]
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


class PublicStatus(BaseModel):
    status: StatusWord
    service: Literal["DTMA"] = "DTMA"
    version: str
    dtma_version: str
    uptime_seconds: float
    missing: list[str] | None = Field(None, description="names of unset variables")
    invalid: list[str] | None = Field(None, description="names of variables with bad values")
    reason: str | None = Field(None, description="why the status is degraded")


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


class ToolInstance(BaseModel):
    account_tool_instance_id: str
    instance_name_on_toolbox: str
    container_id: str
    status: str = Field(description="Docker state: created, running, exited, restarting, ...")
    image: str
    ports: dict[str, list[PortMapping]]
    created: int = Field(description="container creation time, Unix seconds")


class FullStatus(PublicStatus):
    environment: Environment
    system_metrics: SystemMetrics
    tool_instances: list[ToolInstance]


class ToolList(BaseModel):
    tool_instances: list[ToolInstance]


class CreatedTool(BaseModel):
    container_id: str
    instance_name_on_toolbox: str
    account_tool_instance_id: str
    image: str
    ports: dict[str, list[PortMapping]]
    state: str


class DeletedTool(BaseModel):
    deleted: Literal[True] = True
    instance_name_on_toolbox: str
    container_id: str


class PortBindingRequest(BaseModel):
    HostIp: str = Field("", pattern=r"^[0-9a-fA-F:.]*$", max_length=45)
    HostPort: str = Field("", pattern=rf"^({PORT})?$", description="empty: Docker picks one")


# Keys other than "<port>[/proto]" are refused; the schema says so too (for fuzzers and clients).
PortBindingMap = Annotated[
    dict[PortKey, list[PortBindingRequest]],
    Field(json_schema_extra={"additionalProperties": False}),
]


class HostConfigOverride(BaseModel):
    # Other HostConfig keys the backend may send are ignored: only port bindings are honoured.
    model_config = ConfigDict(extra="ignore")
    PortBindings: PortBindingMap | None = None


class ConfigOverride(BaseModel):
    model_config = ConfigDict(extra="ignore")
    Env: list[EnvEntry] | None = Field(None, description='"KEY=value" strings')
    HostConfig: HostConfigOverride | None = None


class CreateToolRequest(BaseModel):
    dockerImageUrl: str = Field(
        max_length=512,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._/:@+-]*$",
        description="image reference, e.g. ghcr.io/org/tool:1.2",
    )
    instanceNameOnToolbox: str = Field(max_length=128, pattern=NAME_PATTERN)
    accountToolInstanceId: str = Field(min_length=1, max_length=128)
    baseConfigOverrideJson: ConfigOverride | None = None
