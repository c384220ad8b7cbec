"""HTTP routes: health, status and the tool containers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from dtma import status
from dtma.auth import has_credentials, require_credentials
from dtma.models import (
    CreatedTool,
    CreateToolRequest,
    DeletedTool,
    ErrorBody,
    FullStatus,
    Health,
    PublicStatus,
    ToolList,
)
from dtma.names import NAME_PATTERN
from dtma.tools import ToolStore

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no usable Bearer credentials"},
    403: {"model": ErrorBody, "description": "token matches neither accepted key"},
    503: {"model": ErrorBody, "description": "a key is not configured, or Docker is unreachable"},
}
BAD_NAME = {400: {"model": ErrorBody, "description": "not a valid Docker container name"}}
NOT_MANAGED = {404: {"model": ErrorBody, "description": "no managed container with this name"}}
DOCKER_FAILED = {502: {"model": ErrorBody, "description": "Docker failed the operation"}}
CREATE_ERRORS = AUTH_ERRORS | BAD_NAME | DOCKER_FAILED
CREATE_ERRORS[409] = {"model": ErrorBody, "description": "name or host port in use"}
STOP_ERRORS = AUTH_ERRORS | BAD_NAME | NOT_MANAGED | DOCKER_FAILED
START_ERRORS = STOP_ERRORS | {409: {"model": ErrorBody, "description": "host port in use"}}
NAME_PARAM = Path(pattern=NAME_PATTERN, max_length=128, description="the container's name")

router = APIRouter()


def _store(request: Request) -> ToolStore:
    return request.app.state.store


@router.get("/health", response_model=Health)
def health() -> dict[str, str]:
    """Liveness only: no auth, no Docker call."""
    return {"status": "ok"}


@router.get(
    "/status",
    response_model=FullStatus | PublicStatus,
    response_model_exclude_none=True,
    responses={k: v for k, v in AUTH_ERRORS.items() if k != 503}
    | {503: {"model": ErrorBody, "description": "a key is not configured"}},
)
def get_status(request: Request) -> dict[str, Any]:
    """Public summary without credentials; the full report with valid ones."""
    state = request.app.state
    if has_credentials(request):
        return status.full_status(state.settings, state.store, state.started)
    return status.public_status(state.settings, state.store, state.started)


@router.get("/tools", response_model=ToolList, responses=AUTH_ERRORS)
def list_tools(request: Request, _: None = Depends(require_credentials)) -> dict[str, Any]:
    return {"tool_instances": _store(request).list_instances()}


@router.post(
    "/tools",
    status_code=201,
    response_model=CreatedTool,
    responses=CREATE_ERRORS,
)
def create_tool(
    body: CreateToolRequest, request: Request, _: None = Depends(require_credentials)
) -> dict[str, Any]:
    """Pull the image if missing, create and start the container (restart unless-stopped)."""
    return _store(request).create(body)


@router.post("/tools/{name}/start", response_model=CreatedTool, responses=START_ERRORS)
def start_tool(
    name: str = NAME_PARAM, *, request: Request, _: None = Depends(require_credentials)
) -> Any:
    return _store(request).start(name)


@router.post("/tools/{name}/stop", response_model=CreatedTool, responses=STOP_ERRORS)
def stop_tool(
    name: str = NAME_PARAM, *, request: Request, _: None = Depends(require_credentials)
) -> Any:
    return _store(request).stop(name)


@router.delete("/tools/{name}", response_model=DeletedTool, responses=STOP_ERRORS)
def delete_tool(
    name: str = NAME_PARAM, *, request: Request, _: None = Depends(require_credentials)
) -> Any:
    return _store(request).delete(name)
