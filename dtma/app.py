"""The FastAPI application: routes, error shapes, request log, heartbeat lifecycle."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import docker
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from dtma import __version__
from dtma.config import Settings
from dtma.docker_work import DockerWork
from dtma.errors import error_response, install_error_handlers
from dtma.guard import RequestGuard
from dtma.heartbeat import Heartbeat
from dtma.routes import router
from dtma.tools import DockerFactory, ToolStore

log = logging.getLogger("dtma.request")


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
    store = ToolStore(docker_factory, agent_port=settings.port)
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
    app.state.docker_work = DockerWork()
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

    # Added before the log middleware, so that it sits inside it: refusals are logged too.
    app.add_middleware(RequestGuard, settings=settings)

    @app.middleware("http")
    async def log_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = uuid.uuid4().hex[:16]
        begin = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            # Traceback to the log only; the caller gets an id to quote.
            log.exception("unhandled error request_id=%s", request_id)
            response = error_response(500, "internal error", request_id=request_id)
        response.headers["X-Request-ID"] = request_id
        # Path only: the query string and headers (Authorization) never reach the log.
        line = {
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "ms": round((time.perf_counter() - begin) * 1000, 1),
            "request_id": request_id,
        }
        log.info(json.dumps(line))
        return response

    return app
