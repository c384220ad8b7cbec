"""What the numbers were measured on (CPU, cores, memory, kernel, Docker engine), and the results
file they are written to."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime
from pathlib import Path

import docker


def _first(path: str, key: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def machine_info() -> dict:
    memory = _first("/proc/meminfo", "MemTotal")  # "24684328 kB"
    try:
        engine = docker.from_env().version()
        docker_version = {"server": engine.get("Version"), "api": engine.get("ApiVersion")}
        storage = docker.from_env().info().get("Driver")
    except docker.errors.DockerException:
        docker_version, storage = None, None
    return {
        "cpu_model": _first("/proc/cpuinfo", "model name") or platform.processor(),
        "cores": os.cpu_count(),
        "memory_bytes": int(memory.split()[0]) * 1024 if memory else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "docker": docker_version,
        "docker_storage_driver": storage,
    }


def write_results(out: Path, prefix: str, started_at: datetime, document: dict) -> Path:
    """Write one run's results as `out/<prefix><start time>.json` and say where."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{prefix}{started_at.strftime('%Y-%m-%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results: {path}")
    return path
