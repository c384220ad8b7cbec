"""The /status report: public summary or the full one the backend reads."""

from __future__ import annotations

import time
from typing import Any

from dtma import metrics
from dtma.config import Settings
from dtma.errors import ApiError
from dtma.tool_views import public_instance
from dtma.tools import ToolStore


def _headline(settings: Settings, docker_error: str | None, started: float) -> dict[str, Any]:
    report: dict[str, Any] = {
        "status": "healthy",
        "service": "DTMA",
        "version": settings.version,
        "dtma_version": settings.version,
        "uptime_seconds": round(time.monotonic() - started, 1),
    }
    if docker_error:
        report["status"], report["reason"] = "degraded", docker_error
    if settings.missing or settings.invalid:
        report["status"] = "misconfigured"
        if settings.missing:
            report["missing"] = settings.missing
        if settings.invalid:
            report["invalid"] = list(settings.invalid)
    return report


def _instances(store: ToolStore) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return store.list_instances(), None
    except ApiError as exc:
        return [], exc.message


def public_status(settings: Settings, store: ToolStore, started: float) -> dict[str, Any]:
    """What the backend's tool list reads (it calls without credentials): no ports, env,
    metrics or configuration, and no Docker error text (`degraded` says enough)."""
    instances, docker_error = _instances(store)
    report = _headline(settings, docker_error, started)
    report.pop("reason", None)
    report["tool_instances"] = [public_instance(instance) for instance in instances]
    return report


def full_status(settings: Settings, store: ToolStore, started: float) -> dict[str, Any]:
    instances, docker_error = _instances(store)
    report = _headline(settings, docker_error, started)
    report["environment"] = {
        "hasAuthToken": bool(settings.bearer_token),
        "hasApiKey": bool(settings.backend_api_key),
        "hasApiBaseUrl": bool(settings.api_base_url),
        "port": settings.port,
    }
    report["system_metrics"] = metrics.system_metrics()
    report["tool_instances"] = instances
    return report
