"""The docs name real things: every reference in README.md and docs/*.md resolves.

People learn the pattern by reading the docs next to the code, so a renamed module, job,
setting or make target must not leave a doc pointing at nothing. Each reference found
is one test case (its id says file, line and reference), so a broken one says exactly
where it is. What is checked:

- relative Markdown links point to an existing file;
- backticked repo paths (`jobs/base.py`, `tests/chaos/`, `Makefile`) exist, and so does
  a bare file name (`test_fuzz.py`) somewhere in the repo;
- a backticked `.py` path followed by a backticked name (`accounts/services.py`
  `user_signup`, the README's tours) names something defined in that file;
- `tests/...py::test_name` and bare `test_name` references name a test that exists;
- backticked dotted references into our packages (`jobs.services.job_requeue`,
  `jobs.ops`, `jobs.JobRecord`) import, and `settings.NAME` is a setting;
- every `make <target>` is a target of the Makefile;
- every line anchor, [`name`](../path.py#L<n>), names a file that exists and line n of it
  defines that name (`docs/anchors.py`, which these tests import, says what counts and
  `make docs-anchors` moves stale anchors).

Only text in backticks and fenced code blocks counts; prose is free to say anything.
"""

import ast
import importlib
import importlib.util
import re
import sys
from functools import cache
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]

PACKAGES = ("accounts", "uploads", "jobs", "config")
# Where a path with a "/" must exist when it starts here (storage keys such as
# `photos/<owner>/...` and runtime folders such as `var/mail/` start elsewhere).
SOURCE_ROOTS = {*PACKAGES, "tests", "docs", "bench", "templates", "static", ".ci"}
EXTENSIONS = (".py", ".html", ".js", ".css", ".md", ".yml", ".yaml", ".txt", ".toml", ".json")
TOP_LEVEL_FILES = {"Makefile", "Procfile", "Dockerfile", ".env.example", ".dockerignore"}
PLACEHOLDER = re.compile(r"[<>…*{}$|]")  # `templates/<app>/<name>.html` is a pattern

_spec = importlib.util.spec_from_file_location("docs_anchors", ROOT / "docs" / "anchors.py")
anchors = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = anchors
_spec.loader.exec_module(anchors)

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOTTED = re.compile(rf"\b(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+")
SETTING = re.compile(r"\bsettings\.([A-Z][A-Z0-9_]*)\b")
MAKE = re.compile(r"(?:^|[\s;&(])make\s+((?:-\S+\s+)*)([A-Za-z][\w.-]*)")
NODE_ID = re.compile(r"^([\w./-]+\.py)::(\w+)$")
TEST_NAME = re.compile(r"^test_\w+$")
# `accounts/services.py` `user_signup`: a file, then what in it the step is about.
FILE_THEN_NAME = re.compile(r"`([\w./-]+\.py)`\s+`([A-Za-z_][\w.]*)`")


def line_of(text, index):
    return text.count("\n", 0, index) + 1


@cache
def doc_text(doc):
    return doc.read_text()


def code_spans(doc):
    """(line, content) of every inline code span and every line of every fenced block."""
    text = doc_text(doc)
    blanked = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    for match in SPAN.finditer(blanked):
        yield line_of(text, match.start()), match.group(1)
    for match in FENCE.finditer(text):
        first = line_of(text, match.start())
        for offset, line in enumerate(match.group().splitlines()[1:-1], start=1):
            yield first + offset, line


def refs(kind):
    """Test cases for one kind of reference: pytest.param(doc, line, ref) with a readable id."""
    found = []
    for doc in DOCS:
        for line, ref in EXTRACTORS[kind](doc):
            name = doc.relative_to(ROOT)
            found.append(pytest.param(doc, line, ref, id=f"{name}:{line}:{ref}"))
    return found


def links(doc):
    text = FENCE.sub("", doc_text(doc))
    for match in LINK.finditer(text):
        target = match.group(1)
        if re.match(r"^[a-z][a-z+.-]*:", target) or target.startswith("#"):
            continue  # http:, mailto:, an anchor on the same page
        yield line_of(text, match.start()), target


def paths(doc):
    for line, span in code_spans(doc):
        for token in re.split(r"[\s,()=]+", span):
            token = token.strip("'\"`;:.").split("::")[0]
            if not token or PLACEHOLDER.search(token) or "://" in token:
                continue
            if "/" in token and not token.startswith(("/", "./", "../")):
                if token.split("/")[0] in SOURCE_ROOTS or token.endswith(EXTENSIONS):
                    yield line, token
            elif token in TOP_LEVEL_FILES or (
                token.endswith(EXTENSIONS) and re.fullmatch(r"[\w.-]+", token)
            ):
                yield line, token


def names_in_files(doc):
    text = FENCE.sub("", doc_text(doc))
    for match in FILE_THEN_NAME.finditer(text):
        yield line_of(text, match.start()), f"{match.group(1)} {match.group(2)}"


def named_tests(doc):
    for line, span in code_spans(doc):
        if NODE_ID.match(span) or TEST_NAME.match(span):
            yield line, span


def dotted(doc):
    for line, span in code_spans(doc):
        if "/" in span or "://" in span:
            continue  # a path or a URL, checked as such
        for match in DOTTED.finditer(span):
            yield line, match.group()
        for match in SETTING.finditer(span):
            yield line, f"settings.{match.group(1)}"


def periodic_ids(doc):
    for line, span in code_spans(doc):
        if re.fullmatch(r"periodic-[\w-]+", span):
            yield line, span


def make_targets(doc):
    for line, span in code_spans(doc):
        for match in MAKE.finditer(span):
            yield line, match.group(2)


EXTRACTORS = {
    "links": links,
    "paths": paths,
    "names_in_files": names_in_files,
    "tests": named_tests,
    "dotted": dotted,
    "make": make_targets,
    "periodic": periodic_ids,
}


# What the checks resolve against.


@cache
def defined_names(path):
    """Top-level functions, classes and assignments of a module, and Class.member."""
    names = set()
    for node in ast.parse((ROOT / path).read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(f"{node.name}.{member.name}")
                elif isinstance(member, ast.AnnAssign | ast.Assign):
                    targets = (
                        [member.target] if isinstance(member, ast.AnnAssign) else member.targets
                    )
                    names.update(f"{node.name}.{t.id}" for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


@cache
def all_tests():
    """Every test function name under tests/."""
    found = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.add(node.name)
    return found


@cache
def repo_file_names():
    skip = {".git", ".venv", "var", "node_modules", "__pycache__"}
    return {
        path.name
        for path in ROOT.rglob("*")
        if path.is_file() and not skip.intersection(path.relative_to(ROOT).parts)
    }


@cache
def makefile_targets():
    text = (ROOT / "Makefile").read_text()
    targets = set()
    for match in re.finditer(r"^([A-Za-z][\w.\- ]*?)\s*:(?!=)", text, re.M):
        targets.update(match.group(1).split())
    return targets


def resolve(dotted_name):
    """Import the longest module prefix of `dotted_name`, then get the rest as attributes.

    A two-part `app_label.Model` (Django's model label, `jobs.JobRecord`) resolves too.
    """
    parts = dotted_name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            target = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and not module_name.startswith(exc.name):
                raise  # the module exists but imports something missing
            continue
        for attribute in parts[cut:]:
            try:
                target = getattr(target, attribute)
            except AttributeError:
                if len(parts) == 2:
                    return apps.get_model(dotted_name)
                raise
        return target
    raise ImportError(dotted_name)


# The checks.


@pytest.mark.parametrize(("doc", "line", "target"), refs("links"))
def test_a_relative_link_points_to_a_file(doc, line, target):
    assert (doc.parent / target.split("#")[0]).exists(), f"{doc.name}:{line}: no file {target}"


@pytest.mark.parametrize(("doc", "line", "path"), refs("paths"))
def test_a_repo_path_exists(doc, line, path):
    if "/" in path or path in TOP_LEVEL_FILES:
        assert (ROOT / path).exists(), f"{doc.name}:{line}: no {path} in the repo"
    else:
        assert path in repo_file_names(), f"{doc.name}:{line}: no file named {path} anywhere"


@pytest.mark.parametrize(("doc", "line", "ref"), refs("names_in_files"))
def test_a_name_after_a_file_is_defined_in_it(doc, line, ref):
    path, name = ref.split()
    assert (ROOT / path).exists(), f"{doc.name}:{line}: no {path}"
    assert name in defined_names(path), f"{doc.name}:{line}: {path} defines no {name}"


@pytest.mark.parametrize(("doc", "line", "ref"), refs("tests"))
def test_a_named_test_exists(doc, line, ref):
    if match := NODE_ID.match(ref):
        path, name = match.groups()
        assert (ROOT / path).exists(), f"{doc.name}:{line}: no {path}"
        assert name in defined_names(path), f"{doc.name}:{line}: {path} has no {name}"
    else:
        assert ref in all_tests(), f"{doc.name}:{line}: no test named {ref} under tests/"


@pytest.mark.parametrize(("doc", "line", "ref"), refs("dotted"))
def test_a_python_reference_imports(doc, line, ref):
    from jobs.models import JobRecord

    if ref.startswith("jobs.") and ref.endswith("_ops"):  # a permission, "app.codename"
        codenames = [codename for codename, _ in JobRecord._meta.permissions]
        assert ref.removeprefix("jobs.") in codenames, f"{doc.name}:{line}: no permission {ref}"
        return
    if ref.startswith("settings."):
        name = ref.removeprefix("settings.")
        assert hasattr(settings, name), f"{doc.name}:{line}: no setting {name}"
        return
    try:
        resolve(ref)
    except (ImportError, AttributeError, LookupError) as exc:
        pytest.fail(f"{doc.name}:{line}: {ref} does not resolve: {exc!r}")


@pytest.mark.parametrize(("doc", "line", "target"), refs("make"))
def test_a_make_target_exists(doc, line, target):
    assert target in makefile_targets(), f"{doc.name}:{line}: the Makefile has no {target}"


@pytest.mark.parametrize(("doc", "line", "entry_id"), refs("periodic"))
def test_a_cron_entry_id_is_a_declared_cron_job(doc, line, entry_id):
    from jobs.schedules import periodic_declared

    assert entry_id in periodic_declared(), f"{doc.name}:{line}: no cron job has id {entry_id}"


# The tables that list every job must list exactly the declared ones.


def declared_jobs():
    """(kind, file, queue) of every job our apps declare."""
    from jobs.base import registry

    return {
        (job.name, job.func.__module__.replace(".", "/") + ".py", job.queue)
        for path, job in registry.items()
        if path.split(".")[0] in PACKAGES
    }


def table_rows(doc, header):
    """The rows of the Markdown table whose header line starts with `header`, as cells."""
    lines = doc_text(doc).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_readme_lists_every_job_kind_with_its_module_and_queue():
    rows = table_rows(ROOT / "README.md", "| Kind | Declared in | Queue |")
    listed = {tuple(cell.strip("`") for cell in row) for row in rows}
    assert listed == declared_jobs()


def test_the_priorities_table_puts_every_job_on_its_queue():
    rows = table_rows(ROOT / "docs" / "knobs.md", "| queue | job kinds | why |")
    listed = {
        (kind, queue.strip("`"))
        for queue, kinds, _ in rows
        for kind in re.findall(r"`(\w+)`", kinds)
    }
    assert listed == {(kind, queue) for kind, _, queue in declared_jobs()}


def test_every_environment_variable_in_the_readme_tables_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    names = [
        name
        for line in doc_text(ROOT / "README.md").splitlines()
        if line.startswith("| `") and re.match(r"\| `[A-Z][A-Z0-9_]+`", line)
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])
    ]
    assert "REDIS_URL" in names
    assert [name for name in names if not re.search(rf"^#?\s*{name}=", example, re.M)] == []


# The checks must see something: a pattern that matched nothing would pass everything.


@pytest.mark.parametrize(
    ("kind", "example"),
    [
        ("links", "docs/knobs.md"),
        ("paths", "jobs/base.py"),
        ("names_in_files", "accounts/services.py user_signup"),
        ("tests", "tests/jobs/test_engine.py::test_retries_wait_longer_each_time"),
        ("dotted", "jobs.worker.Worker"),
        ("make", "test"),
        ("periodic", "periodic-send_digests"),
    ],
)
def test_each_check_finds_references(kind, example):
    found = {param.values[2] for param in refs(kind)}
    assert example in found


def test_the_checks_catch_a_broken_reference(tmp_path):
    doc = tmp_path / "broken.md"
    doc.write_text(
        "See [the API](missing.md), `jobs/nothing.py`, `jobs/base.py` `no_such_job`,\n"
        "`tests/jobs/test_engine.py::test_nothing`, `jobs.services.job_nowhere`,\n"
        "`settings.PERIODIC_JOBS` and `make deploy`.\n"
    )
    assert not (doc.parent / next(iter(links(doc)))[1]).exists()
    assert not (ROOT / next(iter(paths(doc)))[1]).exists()
    path, name = next(iter(names_in_files(doc)))[1].split()
    assert name not in defined_names(path)
    assert "test_nothing" not in defined_names("tests/jobs/test_engine.py")
    dotted_refs = [ref for _, ref in dotted(doc)]
    assert dotted_refs == ["jobs.services.job_nowhere", "settings.PERIODIC_JOBS"]
    with pytest.raises(AttributeError):
        resolve("jobs.services.job_nowhere")
    assert not hasattr(settings, "PERIODIC_JOBS")
    assert [target for _, target in make_targets(doc)] == ["deploy"]
    assert "deploy" not in makefile_targets()


# Line anchors: [`name`](../path.py#L<n>) must point at the line that defines name.


def anchor_params():
    return [
        pytest.param(anchor, id=f"{anchor.doc.relative_to(ROOT)}:{anchor.doc_line}:{anchor.name}")
        for doc in anchors.docs()
        for anchor in anchors.anchors(doc)
    ]


@pytest.mark.parametrize("anchor", anchor_params())
def test_a_line_anchor_points_at_the_definition(anchor):
    assert anchor.file.is_file(), f"{anchor}: no file {anchor.path}"
    now = anchors.defined_at(anchor)
    assert now is not None, f"{anchor}: {anchor.path} defines no {anchor.name}"
    assert now == anchor.line, f"{anchor}: defined at line {now}; run make docs-anchors"


def test_the_docs_have_line_anchors():
    found = {(a.doc.name, a.name) for doc in anchors.docs() for a in anchors.anchors(doc)}
    assert ("README.md", "user_signup") in found
    assert ("README.md", "Job.enqueue") in found


def test_a_stale_anchor_is_reported_and_fixed(tmp_path):
    (tmp_path / "mod.py").write_text(
        "LIMIT = 3\n\n\nclass Box:\n    def open(self):\n        pass\n\n\n"
        "async def fetch():\n    pass\n"
    )
    doc = tmp_path / "page.md"
    doc.write_text(
        "[`LIMIT`](mod.py#L1), [`Box`](mod.py#L4), [`Box.open`](mod.py#L2),\n"
        "[`fetch`](mod.py#L1), [`gone`](mod.py#L1), [`LIMIT`](nowhere.py#L1)\n"
        "```\n[`fetch`](mod.py#L1)\n```\n"
    )
    found = list(anchors.anchors(doc))
    assert [(a.name, a.line) for a in found] == [
        ("LIMIT", 1),
        ("Box", 4),
        ("Box.open", 2),
        ("fetch", 1),
        ("gone", 1),
        ("LIMIT", 1),
    ]
    stale = [(a.name, a.path, now) for a, now in anchors.stale([doc])]
    assert stale == [
        ("Box.open", "mod.py", 5),
        ("fetch", "mod.py", 9),
        ("gone", "mod.py", None),
        ("LIMIT", "nowhere.py", None),
    ]
    missing = anchors.fix(doc)
    assert [a.name for a in missing] == ["gone", "LIMIT"]
    assert doc.read_text().splitlines()[:2] == [
        "[`LIMIT`](mod.py#L1), [`Box`](mod.py#L4), [`Box.open`](mod.py#L5),",
        "[`fetch`](mod.py#L9), [`gone`](mod.py#L1), [`LIMIT`](nowhere.py#L1)",
    ]
    assert [a.name for a, _ in anchors.stale([doc])] == ["gone", "LIMIT"]
