"""The import direction the layout promises: accounts -> uploads -> jobs, accounts -> jobs.

jobs/ is the engine and must stay liftable on its own, so it imports no app of ours.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"jobs": {"accounts", "uploads"}, "uploads": {"accounts"}, "accounts": set()}


def imported_apps(app):
    found = set()
    for path in (ROOT / app).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add((node.module.split(".")[0], path.relative_to(ROOT)))
            elif isinstance(node, ast.Import):
                found.update(
                    (alias.name.split(".")[0], path.relative_to(ROOT)) for alias in node.names
                )
    return found


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_imports_point_one_way(app):
    offending = sorted(str(path) for module, path in imported_apps(app) if module in FORBIDDEN[app])
    assert offending == []


def test_the_check_sees_imports_at_all():
    assert ("jobs", Path("uploads/tasks.py")) in imported_apps("uploads")
