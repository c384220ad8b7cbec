"""The FastAPI application: routes, error shapes, request log, heartbeat lifecycle."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import docker
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from dtma import __version__
from dtma.config import Settings
from dtma.docker_work import DockerWork
from dtma.errors import error_response, install_error_handlers
from dtma.guard import RequestGuard
from dtma.heartbeat import Heartbeat
from dtma.request_log import RequestLog
from dtma.routes import router
from dtma.tools import DockerFactory, ToolStore


def _openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents 422 for bad input; this agent answers 400 (see errors.py)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, routes=app.routes, description=app.description
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    settings: Settings | None = None,
    docker_factory: DockerFactory | None = None,
    *,
    heartbeat: bool = True,
) -> FastAPI:
    """Build the agent. Settings default to the environment; nothing here touches Docker.

    /docs and /redoc are off; /openapi.json needs credentials like the tool routes."""
    settings = settings or Settings.from_env()
    store = ToolStore(
        docker_factory,
        agent_port=settings.port,
        check_port=settings.check_port,
        private_registries=settings.private_registries,
        limits=settings.tool_limits,
    )
    started = time.monotonic()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        beat = Heartbeat(settings, store, started)
        if heartbeat:
            beat.start()
        try:
            yield
        finally:
            beat.stop()

    app = FastAPI(
        title="DTMA",
        description="Droplet Tool Management Agent: runs and reports tool containers.",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings, app.state.store, app.state.started = settings, store, started
    app.state.docker_work = DockerWork(pull_deadline=settings.pull_deadline)
    app.state.heartbeat_enabled = heartbeat
    install_error_handlers(app)
    app.include_router(router)
    app.openapi = lambda: _openapi_without_422(app)  # type: ignore[method-assign]

    @app.exception_handler(docker.errors.NotFound)
    async def _docker_not_found(_: Request, exc: docker.errors.NotFound) -> JSONResponse:
        # A container removed between lookup and action.
        return error_response(404, f"not found in Docker: {exc.explanation}")

    @app.exception_handler(docker.errors.APIError)
    async def _docker_failed(_: Request, exc: docker.errors.APIError) -> JSONResponse:
        return error_response(502, f"Docker failed: {exc.explanation}")

    # Starlette wraps the last added outermost: the log sees the guard's refusals too.
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(RequestLog)
    return app
