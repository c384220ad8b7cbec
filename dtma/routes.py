"""HTTP routes: health, status and the tool containers.

Credentials for `/tools…` are checked by `dtma.guard` before the body is read; `/status` checks
them itself (no header is the public summary). Docker work goes through `dtma.docker_work`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from starlette.convertors import Convertor, register_url_convertor

from dtma import status
from dtma.auth import has_credentials
from dtma.docker_work import DockerWork
from dtma.models import (
    CreatedTool,
    CreateToolRequest,
    DeletedTool,
    ErrorBody,
    FullStatus,
    Health,
    PublicStatus,
    ToolAnswer,
    ToolList,
)
from dtma.names import MAX_NAME_LENGTH, VISIBLE_PATTERN
from dtma.tools import ToolStore

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no usable Bearer credentials"},
    403: {"model": ErrorBody, "description": "token matches neither accepted key"},
    503: {"model": ErrorBody, "description": "a key is not configured, or Docker is unreachable"},
}
BAD_NAME = {400: {"model": ErrorBody, "description": "empty, too long, or control characters"}}
NOT_MANAGED = {404: {"model": ErrorBody, "description": "no managed container with this name"}}
DOCKER_FAILED = {
    502: {"model": ErrorBody, "description": "Docker failed the operation"},
    429: {"model": ErrorBody, "description": "too many Docker operations in progress"},
}
CREATE_ERRORS = AUTH_ERRORS | BAD_NAME | DOCKER_FAILED
CREATE_ERRORS[409] = {"model": ErrorBody, "description": "name reserved or in use, port in use"}
STOP_ERRORS = AUTH_ERRORS | BAD_NAME | NOT_MANAGED | DOCKER_FAILED
START_ERRORS = STOP_ERRORS | {409: {"model": ErrorBody, "description": "host port in use"}}
NAME_PARAM = Path(
    min_length=1,
    max_length=MAX_NAME_LENGTH,
    pattern=VISIBLE_PATTERN,
    description="the instance name as typed (URL-encoded by the caller) or the container name",
)


class DeletableName(Convertor[str]):
    """Any name (slashes included: `encodeURIComponent` sends them as %2F, which arrives decoded)
    except one ending in /start or /stop, so that DELETE on those routes is a 405. A tool whose
    name ends so is deleted by its container name, which every answer carries."""

    regex = r".+?(?<!/start)(?<!/stop)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("deletable_name", DeletableName())
router = APIRouter()


def _store(request: Request) -> ToolStore:
    return request.app.state.store


def _work(request: Request) -> DockerWork:
    return request.app.state.docker_work


@router.get("/health", response_model=Health)
async def health() -> dict[str, str]:
    """Liveness only: no auth, no Docker call, no thread."""
    return {"status": "ok"}


@router.get(
    "/status",
    response_model=FullStatus | PublicStatus,
    response_model_exclude_none=True,
    responses={k: v for k, v in AUTH_ERRORS.items() if k != 503}
    | {503: {"model": ErrorBody, "description": "a key is not configured"}},
)
async def get_status(request: Request) -> dict[str, Any]:
    """Public summary (with the backend list's tool fields) without credentials; the full report
    with valid ones."""
    state = request.app.state
    report = status.full_status if has_credentials(request) else status.public_status
    return await _work(request).quick(lambda: report(state.settings, state.store, state.started))


@router.get("/tools", response_model=ToolList, responses=AUTH_ERRORS)
async def list_tools(request: Request) -> dict[str, Any]:
    return {"tool_instances": await _work(request).quick(_store(request).list_instances)}


@router.post("/tools", status_code=201, response_model=CreatedTool, responses=CREATE_ERRORS)
async def create_tool(body: CreateToolRequest, request: Request) -> dict[str, Any]:
    """Pull the image if missing, create and start the container (restart unless-stopped)."""
    store, work = _store(request), _work(request)
    store.check_request(body)  # a 400 needs no Docker
    if not await work.quick(lambda: store.has_image(body.dockerImageUrl)):
        await work.pull(lambda: store.prepare(body))  # refused before any pull, else pulled
    return await work.slow(lambda: store.create(body))


@router.post("/tools/{name:path}/start", response_model=ToolAnswer, responses=START_ERRORS)
async def start_tool(request: Request, name: str = NAME_PARAM) -> Any:
    return await _work(request).slow(lambda: _store(request).start(name))


@router.post("/tools/{name:path}/stop", response_model=ToolAnswer, responses=STOP_ERRORS)
async def stop_tool(request: Request, name: str = NAME_PARAM) -> Any:
    return await _work(request).slow(lambda: _store(request).stop(name))


@router.delete("/tools/{name:deletable_name}", response_model=DeletedTool, responses=STOP_ERRORS)
async def delete_tool(request: Request, name: str = NAME_PARAM) -> Any:
    return await _work(request).slow(lambda: _store(request).delete(name))
