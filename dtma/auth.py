"""Inbound auth: `Authorization: Bearer <token>` with the backend key or this droplet's token."""

from __future__ import annotations

import hmac

from fastapi import Request

from dtma.config import Settings
from dtma.errors import ApiError

TOKEN_VARIABLES = ("BACKEND_TO_DTMA_API_KEY", "DTMA_BEARER_TOKEN")


def _matches(presented: str, settings: Settings) -> bool:
    given = presented.encode()
    # Compare against every configured token (no early exit) so timing says nothing about which.
    results = [hmac.compare_digest(given, token.encode()) for token in settings.accepted_tokens]
    return any(results)


def check_credentials(header: str | None, settings: Settings) -> None:
    """Raise 401 (no usable credentials), 503 (cannot verify) or 403 (wrong token)."""
    if header is None:
        raise ApiError(401, "missing Authorization header: expected 'Bearer <token>'")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise ApiError(401, "unsupported Authorization scheme: expected 'Bearer <token>'")
    token = token.strip()
    if not token:
        raise ApiError(401, "empty bearer token")
    if _matches(token, settings):
        return
    unset = [name for name in TOKEN_VARIABLES if name in settings.missing]
    if unset:
        # With a key unset the agent cannot tell a wrong token from a right one it does not know.
        raise ApiError(
            503,
            f"cannot verify credentials: {', '.join(unset)} not set on this droplet",
            missing=unset,
        )
    raise ApiError(403, "invalid credentials")


def has_credentials(request: Request) -> bool:
    """For /status: False without a header (public summary); raises when they are wrong."""
    header = request.headers.get("authorization")
    if header is None:
        return False
    check_credentials(header, request.app.state.settings)
    return True
