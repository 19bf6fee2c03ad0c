"""Imports run downwards only: juki (the command line) → flows → tasks → juki_core → schemas.

Every module's imports are read with `ast`, function-level ones included, so a late import
cannot hide an upward one. The synthetic city sits beside the stages and uses only schemas.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each package may import of the project's own packages (besides itself).
MAY_IMPORT = {
    "juki": {"flows", "tasks", "juki_core", "schemas", "synthetic"},
    "flows": {"tasks", "juki_core", "schemas"},
    "tasks": {"juki_core", "schemas"},
    "juki_core": {"schemas"},
    "synthetic": {"schemas"},
    "schemas": set(),
}


def imported(path: Path, package: str) -> set[str]:
    """The top-level names of every module a file of `package` imports (relative imports resolved)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.add(package if node.level else node.module.split(".")[0])
    return out


def upward(path: Path, root: Path = ROOT) -> set[str]:
    """The project packages a file imports that its own package may not."""
    package = path.relative_to(root).parts[0]
    return (imported(path, package) & set(MAY_IMPORT)) - MAY_IMPORT[package] - {package}


MODULES = sorted(p for name in MAY_IMPORT for p in (ROOT / name).rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_import(path):
    assert upward(path) == set()


def test_every_top_level_package_has_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "benchmarks", "scripts"}
    assert packages == set(MAY_IMPORT)


def test_the_check_sees_late_and_relative_imports(tmp_path):
    (tmp_path / "tasks").mkdir()
    late = tmp_path / "tasks" / "late.py"
    late.write_text("def f():\n    from juki import cli\n    import flows.replay\n    from . import apply\n")
    assert upward(late, tmp_path) == {"juki", "flows"}
    (tmp_path / "schemas").mkdir()
    low = tmp_path / "schemas" / "low.py"
    low.write_text("import tasks.apply as a\nfrom juki_core.store import connect\nimport duckdb\n")
    assert upward(low, tmp_path) == {"tasks", "juki_core"}
