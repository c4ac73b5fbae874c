"""The engine's settings: one module of defaults (jobs.conf), read on every access."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.conf import Defaults, jobs_settings

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(name for name in vars(Defaults) if name.isupper())


@pytest.mark.parametrize("name", NAMES)
def test_a_project_that_sets_nothing_gets_the_default(settings, name):
    delattr(settings, name)

    expected = list(settings.RQ_QUEUES) if name == "RQ_QUEUE_NAMES" else getattr(Defaults, name)
    assert getattr(jobs_settings, name) == expected


def test_a_setting_the_project_sets_wins(settings):
    settings.JOBS_SWEEP_INTERVAL = 7

    assert jobs_settings.JOBS_SWEEP_INTERVAL == 7


def test_a_name_that_is_no_engine_setting_is_an_error():
    with pytest.raises(AttributeError, match="not a setting of the job engine"):
        jobs_settings.DEBUG  # noqa: B018


def test_every_setting_the_engine_reads_has_a_default():
    read = set()
    for path in (ROOT / "jobs").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "jobs_settings"
            ):
                read.add(node.attr)
    assert "JOBS_SWEEP_INTERVAL" in read  # the scan finds reads at all
    assert sorted(read - set(NAMES)) == []


def test_the_projects_settings_default_to_the_same_values():
    """config/settings.py reads each from the environment: unset, it matches jobs.conf."""
    env = {key: value for key, value in os.environ.items() if key not in NAMES}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {NAMES!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    project = json.loads(out.stdout.strip().splitlines()[-1])
    differing = {
        name: (value, getattr(Defaults, name))
        for name, value in project.items()
        if value is not None and name != "RQ_QUEUE_NAMES" and value != getattr(Defaults, name)
    }
    assert differing == {}
    assert project["RQ_QUEUE_NAMES"] == ["high", "default", "low"]
