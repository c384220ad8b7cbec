"""The rooms of tasks/ import only downward: the deploy core knows neither the fleet, the
sandbox, the doctor nor the CLI; those three rooms do not know each other or the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TASKS = Path(__file__).resolve().parents[1] / "tasks"
ROOMS = ("cli", "fleet", "sandbox", "doctor")
# room -> rooms it must not import
FORBIDDEN = {
    "core": {"tasks.cli", "tasks.fleet", "tasks.sandbox", "tasks.doctor"},
    "fleet": {"tasks.cli", "tasks.sandbox", "tasks.doctor"},
    "sandbox": {"tasks.cli", "tasks.fleet", "tasks.doctor"},
    "doctor": {"tasks.cli", "tasks.fleet", "tasks.sandbox"},
    "cli": set(),
}


def room_of(path: Path) -> str:
    first = path.relative_to(TASKS).parts[0]
    return first if first in ROOMS else "core"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = sorted(TASKS.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TASKS)))
def test_no_module_imports_a_room_above_or_beside_it(path: Path) -> None:
    forbidden = FORBIDDEN[room_of(path)]
    wrong = {
        name
        for name in imported_modules(path)
        if any(name == room or name.startswith(room + ".") for room in forbidden)
    }
    assert not wrong, f"{path.relative_to(TASKS)} imports {sorted(wrong)}"


def test_every_room_says_what_lives_there() -> None:
    for package in [TASKS, *(TASKS / room for room in ROOMS)]:
        init = package / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.splitlines()) >= 2, f"{init} needs a docstring naming its room"
