"""What `fab` loads: one explicit collection, and the executor fabric.yaml names."""

import importlib
from pathlib import Path

import yaml

from fabfile import ns

ROOT = Path(__file__).resolve().parents[3]


def test_every_task_is_in_the_collection_by_its_name():
    assert sorted(ns.task_names) == [
        "build", "demo", "deploy", "doctor", "env", "logs", "plan", "prune", "publish", "release",
        "releases", "restart", "rollback", "sandbox.down", "sandbox.reboot", "sandbox.ssh",
        "sandbox.status", "sandbox.up", "ship", "status", "verify",
    ]  # fmt: skip
    for name in ns.task_names:
        assert ns[name].__doc__, f"{name} has no --help text"


def test_fabric_yaml_names_an_executor_that_exists():
    path = yaml.safe_load((ROOT / "fabric.yaml").read_text())["tasks"]["executor_class"]
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name).__name__ == "DeployExecutor"
