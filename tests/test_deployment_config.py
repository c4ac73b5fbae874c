"""Docker cannot run on our CI machines, so these tests keep docker-compose.yml honest:
it must start the same processes as the Procfile, with variables the settings know."""

import re
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
    assert "--worker-class jobs.worker.Worker" in procfile["worker"]


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
