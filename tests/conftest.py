"""Shared fixtures: a private Redis, personas, an in-process worker.

The suite starts its own redis-server on a free port and points every queue at it, so
it can flush that Redis between tests without touching anyone else's.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings
from rq import SimpleWorker

from config.redis_server import RedisServer
from config.settings import redis_url_with_timeouts


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _queues_on_private_redis(redis_server):
    url = redis_url_with_timeouts(redis_server.url)
    queues = {name: {**config, "URL": url} for name, config in settings.RQ_QUEUES.items()}
    with override_settings(REDIS_URL=url, RQ_QUEUES=queues):
        yield


@pytest.fixture(autouse=True)
def redis(redis_server):
    import django_rq

    connection = django_rq.get_connection("default")
    connection.flushdb()  # ours: started by this session
    yield connection
    connection.flushdb()


@pytest.fixture(autouse=True)
def _isolated_files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATA_DIR = tmp_path


@pytest.fixture
def run_jobs(redis):
    """Run every queued job to completion in this process, then return.

    A SimpleWorker runs jobs in the test's own thread, so jobs see the test's database
    transaction. A forking Worker would share the test's database connection with a
    child process, which corrupts it; real worker processes are for the chaos tests.
    """

    def run(with_scheduler=False):
        import django_rq

        worker = SimpleWorker(
            [django_rq.get_queue(name) for name in settings.RQ_QUEUE_NAMES], connection=redis
        )
        worker.work(burst=True, with_scheduler=with_scheduler)
        return worker

    return run


@pytest.fixture
def fast_forward(redis):
    """Make every job in RQ's scheduled registries due now, as if time had passed.

    Run the worker with with_scheduler=True afterwards to release them.
    """

    def make_due():
        from rq.registry import ScheduledJobRegistry

        due = 0
        for name in settings.RQ_QUEUE_NAMES:
            registry = ScheduledJobRegistry(name, connection=redis)
            for job_id in registry.get_job_ids():
                redis.zadd(registry.key, {job_id: 0})
                due += 1
        return due

    return make_due


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "correct horse 1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "correct horse 2")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "charlie", "charlie@example.com", "correct horse 3", is_staff=True
    )


@pytest.fixture
def worker_process(redis_server, tmp_path):
    """A real `rqworker` process, as `make run` starts it, on the test database.

    For tests whose data is committed (transactional tests, live server): the worker is
    a separate process with its own database connection, like in production.
    """
    processes = []

    def start(*queues, extra_env=None):
        database = settings.DATABASES["default"]
        if database["ENGINE"].endswith("sqlite3"):
            database_url = f"sqlite:///{database['NAME']}"
        else:
            database_url = (
                f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
                f"{database['PORT'] or 5432}/{database['NAME']}"
            )
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "DATA_DIR": str(tmp_path),
            "EMAIL_URL": f"file://{tmp_path / 'mail'}",
            **(extra_env or {}),
        }
        command = [
            sys.executable,
            "manage.py",
            "rqworker",
            *(queues or settings.RQ_QUEUE_NAMES),
            "--with-scheduler",
        ]
        log = open(tmp_path / f"worker-{len(processes)}.log", "w")  # noqa: SIM115 (child keeps it)
        process = subprocess.Popen(
            command, env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
