"""What the numbers were measured on: CPU, cores, memory, kernel, Docker engine."""

from __future__ import annotations

import os
import platform
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
