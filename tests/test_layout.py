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


ENGINE = ROOT / "jobs"
APP_CODE = ("accounts", "uploads", "jobs", "config")


def source_files(*apps):
    for app in apps:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_engine_imports_nothing_from_its_operations_side():
    offending = []
    for path in source_files("jobs"):
        if "ops" in path.relative_to(ENGINE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            if any(module.startswith("jobs.ops") for module in modules):
                offending.append(str(path.relative_to(ROOT)))
    assert offending == []


def app_jobs():
    from jobs.base import registry

    return [job for path, job in registry.items() if path.split(".")[0] in APP_CODE]


def test_no_string_outside_a_declaration_names_a_job_or_its_kind():
    names = {job.name for job in app_jobs()} | {job.module_path for job in app_jobs()}
    assert "send_welcome_email" in names  # the registry is filled

    offending = [
        (str(path.relative_to(ROOT)), node.value)
        for path in source_files(*APP_CODE)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert offending == []


def declared_functions(path):
    """The functions in `path` decorated with @job or @job(...)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Name) and target.id == "job":
                    yield node


def service_names(path):
    """What `path` imported from a services module: the module, or names out of it."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if node.module.endswith(".services") or alias.name == "services":
                    names.add(alias.asname or alias.name)
    return names


def service_calls(function, services):
    calls = []
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            target = node.func
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                target = target.value
            if isinstance(target, ast.Name) and target.id in services:
                calls.append(node)
    return calls


TASK_MODULES = [
    ROOT / "accounts/tasks.py",
    ROOT / "uploads/tasks.py",
    ROOT / "jobs/tasks.py",
    ROOT / "jobs/ops/tasks.py",
]


@pytest.mark.parametrize("path", TASK_MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_task_loads_what_it_needs_and_calls_one_service(path):
    functions = list(declared_functions(path))
    assert functions, "no @job functions found"
    services = service_names(path)

    too_long = [f.name for f in functions if len(f.body) > 4]
    not_one_call = [f.name for f in functions if len(service_calls(f, services)) != 1]
    last_not_a_service = [
        f.name
        for f in functions
        if not (
            isinstance(f.body[-1], ast.Return) and f.body[-1].value in service_calls(f, services)
        )
    ]
    assert (too_long, not_one_call, last_not_a_service) == ([], [], [])
