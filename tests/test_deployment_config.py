"""Docker cannot run on our CI machines, so these tests keep docker-compose.yml honest:
it must start the same processes as the Procfile, with variables the settings know. They
also hold the Dockerfile to its promises: static files collected at build time, the app
run as a user that is not root, and no secrets or local state in the build context."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ["web", "worker", "scheduler", "sweeper"]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def procfile():
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


@pytest.fixture(scope="module")
def documented_variables():
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def variables_read_by(path):
    source = (ROOT / path).read_text()
    readers = r"os\.environ\.get\(|os\.environ\[|env_bool\(|env_int\(|env_list\("
    pattern = rf"""(?:{readers})\s*["']([A-Z][A-Z0-9_]*)["']"""
    return set(re.findall(pattern, source))


def test_it_has_every_service(compose):
    assert {*APP_SERVICES, "redis", "postgres", "mailpit"} <= set(compose["services"])


@pytest.mark.parametrize("service", ["worker", "scheduler", "sweeper"])
def test_background_processes_run_the_procfile_commands(compose, procfile, service):
    assert compose["services"][service]["command"] == procfile[service]


def test_the_worker_listens_to_the_queues_in_priority_order_with_the_scheduler(procfile):
    from django.conf import settings

    words = procfile["worker"].split()
    after_rqworker = words[words.index("rqworker") + 1 :]
    assert after_rqworker[: len(settings.RQ_QUEUE_NAMES)] == settings.RQ_QUEUE_NAMES
    assert "--with-scheduler" in words
    # Jobs run in the worker process: no fork per job (docs/performance.md).
    assert "--worker-class jobs.worker.SimpleWorker" in procfile["worker"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_app_service_is_restarted_when_it_exits(compose, service):
    assert compose["services"][service]["restart"] == "unless-stopped"


def test_a_stopping_worker_has_time_to_finish_its_job(compose):
    # RQ's warm shutdown on SIGTERM; the same default as SHUTDOWN_GRACE_SECONDS under make run.
    assert compose["services"]["worker"]["stop_grace_period"] == "30s"


def test_web_runs_gunicorn_on_port(compose):
    web = compose["services"]["web"]
    assert "gunicorn config.wsgi --bind 0.0.0.0:$${PORT}" in web["command"]
    assert web["environment"]["PORT"] == "8000"


def test_workers_can_be_scaled(compose):
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker


def test_redis_persists_its_queue(compose):
    assert "--appendonly yes" in compose["services"]["redis"]["command"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_variable_compose_sets_is_documented(compose, documented_variables, service):
    assert set(compose["services"][service]["environment"]) <= documented_variables


def test_every_variable_the_code_reads_is_documented(documented_variables):
    sources = ["config/settings.py", "config/devrun.py", "config/supervisor.py"]
    read = set().union(*(variables_read_by(path) for path in sources))
    read -= {"PATH"}  # the system's, not ours
    assert read, "the pattern found no variables: it is broken"
    assert read <= documented_variables, read - documented_variables


def test_app_services_share_one_database_and_redis(compose):
    envs = [compose["services"][name]["environment"] for name in APP_SERVICES]
    assert len({(env["DATABASE_URL"], env["REDIS_URL"]) for env in envs}) == 1


COLLECTSTATIC = "manage.py collectstatic"


def dockerfile_instructions():
    """(INSTRUCTION, arguments) for each line of the Dockerfile, continuations joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (keyword.upper(), arguments.strip())
        for keyword, _, arguments in (line.partition(" ") for line in lines)
        if keyword and not keyword.startswith("#")
    ]


def test_the_docker_build_context_leaves_out_secrets_and_local_state():
    lines = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".env", ".venv", "var", "staticfiles", ".git", "**/__pycache__"} <= lines


def test_the_image_runs_as_a_user_that_is_not_root():
    users = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "USER"]

    assert users, "the image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert dockerfile_instructions()[-1][0] == "USER"


def test_static_files_are_collected_as_root_when_the_image_is_built():
    instructions = dockerfile_instructions()
    collect = [i for i, (_, arguments) in enumerate(instructions) if COLLECTSTATIC in arguments]
    last_user = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "USER")

    assert collect, "the Dockerfile does not collect static files"
    assert all(instructions[i][0] == "RUN" and i < last_user for i in collect)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_no_service_collects_static_files_when_it_starts(compose, service):
    # /app/staticfiles belongs to root: the app user could not write there.
    assert COLLECTSTATIC not in compose["services"][service]["command"]


def test_the_image_build_step_collects_static_files_with_production_settings(tmp_path):
    (run,) = [arguments for _, arguments in dockerfile_instructions() if COLLECTSTATIC in arguments]
    words = run.split("&&")[0].split()
    start = words.index("python")
    build_env = dict(word.split("=", 1) for word in words[:start])
    command = [sys.executable, *words[start + 1 :]]
    assert build_env["DEBUG"] == "false"
    assert command[1:3] == ["manage.py", "collectstatic"]
    # The same command and variables, collecting into tmp_path instead of /app/staticfiles.
    (tmp_path / "build_settings.py").write_text(
        f"from config.settings import *  # noqa: F403\nSTATIC_ROOT = {str(tmp_path / 'static')!r}\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        **build_env,
        "DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "build_settings",
    }

    result = subprocess.run(
        command,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "js" / "poll.js.gz").exists()
    assert (tmp_path / "static" / "admin" / "css" / "base.css").exists()


def test_the_compose_stack_serves_plain_http_so_https_only_settings_default_off(compose):
    env = compose["services"]["web"]["environment"]

    for variable in ["SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"]:
        assert env[variable] == f"${{{variable}:-false}}"
    assert env["SECURE_HSTS_SECONDS"] == "${SECURE_HSTS_SECONDS:-0}"
