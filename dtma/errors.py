"""One error shape for every failure: `{"error": "..."}` (plus a few documented extras)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dtma.names import NAME_RULE

PRINTABLE_FIELDS = ("instanceNameOnToolbox", "accountToolInstanceId", "name")

log = logging.getLogger("dtma")


class ApiError(Exception):
    """An expected failure with its HTTP status; `extra` holds documented, non-secret fields."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra
        self.headers = headers or {}


def error_response(
    status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def describe_validation_error(exc: RequestValidationError) -> str:
    """One readable line naming each bad field; input values are never echoed (could be secrets)."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc) or "body"
        kind = err.get("type", "")
        if kind == "missing":
            parts.append(f"missing field: {where}")
        elif kind == "string_pattern_mismatch" and loc[-1:] and loc[-1] in PRINTABLE_FIELDS:
            parts.append(f"{where} is blank or contains control characters")
        elif kind == "extra_forbidden":
            parts.append(
                f"unknown key {where}: only Env and HostConfig.PortBindings (HostIp, HostPort) "
                "are honoured"
            )
        elif kind == "value_error" and loc[-1:] == ["instanceNameOnToolbox"]:
            problem = str(err.get("ctx", {}).get("error", "is invalid"))
            parts.append(f"{where} {problem}: {NAME_RULE}")
        elif kind == "value_error":
            parts.append(f"{where}: {err.get('ctx', {}).get('error', 'invalid')}")
        elif kind == "json_invalid":
            parts.append("request body is not valid JSON")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _allowed_methods(request: Request) -> list[str]:
    # Starlette lists only the first route matching the path; /tools has GET and POST routes.
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, headers=exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "not found"
        response = error_response(exc.status_code, message)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The contract says 400 (not FastAPI's 422) for a missing or malformed field.
        return error_response(400, describe_validation_error(exc))
