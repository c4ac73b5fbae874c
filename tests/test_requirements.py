"""The two requirement files, and the Makefile and CI script that install them.

requirements.txt holds what the app needs to run (`make run`, the Docker image);
requirements-dev.txt adds the test and lint tools (`make test`, `make lint`, CI).
"""

import ast
import re
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"config", "accounts", "uploads", "jobs"}
# The app's own code: tests/ and bench/ may import the tools in requirements-dev.txt.
APP_SOURCES = [ROOT / "manage.py", *(p for d in FIRST_PARTY for p in (ROOT / d).rglob("*.py"))]
# Test and lint tools: requirements-dev.txt, never requirements.txt.
DEV_TOOLS = re.compile(r"^(pytest.*|ruff|moto|playwright|hypothesis|aiosmtpd)$")


def requirements(name):
    """The Requirement on each line of a requirements file, `-r` lines and comments left out."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def runtime_distributions():
    """requirements.txt's distributions and everything they depend on, installed."""
    seen = set()
    todo = [(req.name, req.extras) for req in requirements("requirements.txt")]
    while todo:
        name, extras = todo.pop()
        if canonicalize_name(name) in seen:
            continue
        seen.add(canonicalize_name(name))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # the import check below names what is missing
        for line in dist.requires or []:
            req = Requirement(line)
            environments = [{"extra": extra} for extra in extras or {""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in environments):
                todo.append((req.name, req.extras))
    return seen


@cache
def imported_modules():
    """{top-level module: [files importing it]} for the app's own code (not tests/, bench/)."""
    found = {}
    for path in APP_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], []).append(str(path.relative_to(ROOT)))
    return found


def test_the_app_sources_are_found():
    # A walk that finds nothing would pass the import check below whatever the app imports.
    assert {"django", "rq", "redis", "PIL"} <= imported_modules().keys()


def test_every_module_the_app_imports_is_stdlib_first_party_or_in_requirements_txt():
    runtime = runtime_distributions()
    providers = packages_distributions()
    missing = {}
    for module, files in sorted(imported_modules().items()):
        if module in sys.stdlib_module_names or module in FIRST_PARTY:
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & runtime:
            missing[module] = (sorted(dists) or "no installed distribution", sorted(set(files)))

    assert not missing, f"imported by the app but not installed by requirements.txt: {missing}"


def test_requirements_txt_holds_no_test_or_lint_tool():
    names = [canonicalize_name(req.name) for req in requirements("requirements.txt")]

    assert names, "requirements.txt lists nothing"
    assert [name for name in names if DEV_TOOLS.match(name)] == []


def test_requirements_dev_txt_holds_the_tools_and_adds_them_to_requirements_txt():
    dev_lines = [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
    ]
    dev_lines = [line for line in dev_lines if line]
    dev = {canonicalize_name(req.name) for req in requirements("requirements-dev.txt")}
    runtime = {canonicalize_name(req.name) for req in requirements("requirements.txt")}

    assert dev_lines[0] == "-r requirements.txt"
    assert {"pytest", "pytest-django", "ruff", "moto", "playwright", "hypothesis"} <= dev
    assert not dev & runtime, "listed in both files"


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned(name):
    operators = {str(req): [spec.operator for spec in req.specifier] for req in requirements(name)}

    assert {req: ops for req, ops in operators.items() if ops != ["=="]} == {}


@cache
def makefile_rules():
    """{target: (prerequisites, recipe lines)}, with $(VENV) expanded."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    venv = re.search(r"^VENV\s*:?=\s*(\S+)", text, re.M).group(1)
    text = text.replace("$(VENV)", venv)
    rules, current = {}, None
    for line in text.splitlines():
        if line.startswith("\t") and current is not None:
            rules[current][1].append(line.strip())
            continue
        match = re.match(r"^([^\s:=#][^:=]*):(?![:=])(.*)$", line)
        current = None
        if match and not re.fullmatch(r"\.[A-Z_]+", match.group(1).strip()):  # .PHONY etc.
            current = match.group(1).strip()
            rules[current] = (match.group(2).split(), [])
    return rules


def makefile_closure(target):
    """The prerequisites `make TARGET` reaches, and the recipe lines of the rules it runs."""
    rules = makefile_rules()
    reached, recipes, todo = set(), [], [target]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        prerequisites, recipe = rules.get(name, ([], []))
        recipes += recipe
        todo += prerequisites
    return reached, recipes


def test_make_run_installs_only_requirements_txt():
    reached, recipes = makefile_closure("run")

    assert "requirements.txt" in reached
    assert "requirements-dev.txt" not in reached
    assert any("pip install" in line and "-r requirements.txt" in line for line in recipes)
    assert not any("requirements-dev.txt" in line for line in recipes)


@pytest.mark.parametrize(
    "target", ["test", "test-sqlite", "test-postgres", "test-chaos", "lint", "fmt", "check"]
)
def test_make_test_and_lint_install_requirements_dev_txt(target):
    assert target in makefile_rules(), f"the Makefile has no {target} target"
    reached, recipes = makefile_closure(target)

    assert {"requirements.txt", "requirements-dev.txt"} <= reached
    assert any("pip install" in line and "-r requirements-dev.txt" in line for line in recipes)


def test_make_check_checks_migrations_and_lints():
    _, recipe = makefile_rules()["check"]

    assert any("makemigrations --check" in line for line in recipe)
    assert any(re.search(r"\$\(MAKE\).* lint$", line) for line in recipe)


def ci_commands():
    """.ci/run's lines, comments and blank lines left out."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / ".ci/run").read_text().splitlines())
    return [line for line in lines if line]


def test_ci_checks_migrations_and_lints_before_the_suite():
    commands = ci_commands()

    def index(pattern):
        found = [i for i, line in enumerate(commands) if re.search(pattern, line)]
        assert found, f".ci/run has no line matching {pattern!r}"
        return found[0]

    errexit = index(r"^set -\w*e")
    migrations = index(r"manage\.py makemigrations --check")
    lint = index(r"^make\b.* lint$")
    suite = index(r"^(\w+=\S+ )*make\b.* test$")

    assert errexit < migrations < suite
    assert errexit < lint < suite
    # A failed check must stop the script: nothing may swallow its exit code.
    for i in (migrations, lint):
        assert "||" not in commands[i] and not commands[i].startswith(("if ", "!"))


def test_the_image_installs_only_requirements_txt():
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line[:1] != "#"]
    installs = [line for line in lines if line.startswith("RUN ") and "pip install" in line]

    assert installs, "the Dockerfile installs no requirements"
    assert all("-r requirements.txt" in line for line in installs)
    assert not [line for line in lines if "requirements-dev.txt" in line]
