"""Shared fixtures: a private Redis, personas, an in-process worker.

The suite starts its own redis-server on a free port and points every queue at it, so
it can flush that Redis between tests without touching anyone else's.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import TestCase, override_settings

from config.redis_server import RedisServer
from config.settings import redis_url_with_timeouts
from jobs.worker import SimpleWorker
from tests.s3 import BUCKET, S3Endpoint
from tests.smtp import SmtpSink


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _queues_on_private_redis(redis_server):
    url = redis_url_with_timeouts(redis_server.url)
    queues = {name: {**config, "URL": url} for name, config in settings.RQ_QUEUES.items()}
    # A fast hasher: the default one takes a third of a second per user, on purpose.
    fast_hasher = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with override_settings(REDIS_URL=url, RQ_QUEUES=queues, PASSWORD_HASHERS=fast_hasher):
        yield


@pytest.fixture(autouse=True)
def redis(redis_server):
    import django_rq

    connection = django_rq.get_connection("default")
    connection.flushdb()  # ours: started by this session
    yield connection
    connection.flushdb()


@pytest.fixture
def redis_requests(monkeypatch):
    """Every request any Redis client sends from now on, a pipeline being one: their
    number is the number of round trips."""
    from redis.connection import Connection

    sent = []
    send = Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return sent


@pytest.fixture(autouse=True)
def _demo_controls_off(settings):
    """Tests see production's costs: the demo hooks (jobs.demo.controls) read Redis only
    when DEMO_CONTROLS is on, which the demo's own tests turn on."""
    settings.DEMO_CONTROLS = False


@pytest.fixture(autouse=True)
def _chart_counts_per_test(settings):
    """The chart figures a test counts are written when its worker stops or a page reads
    them, never mid-test by the clock (a write would add a round trip to one job), and
    none carry over from the test before."""
    from jobs import stats

    settings.JOBS_STATS_FLUSH_SECONDS = 3600
    stats._pending.take()


@pytest.fixture(autouse=True)
def _isolated_files(settings, tmp_path):
    """Each test gets its own DATA_DIR: staged uploads, published photos, mail."""
    settings.DATA_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "photos": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "photos", "allow_overwrite": True},
        },
    }


@pytest.fixture
def run_jobs(redis):
    """Run every queued job to completion in this process, then return.

    A SimpleWorker runs jobs in the test's own thread, so jobs see the test's database
    transaction. A forking Worker would share the test's database connection with a
    child process, which corrupts it; real worker processes are for the chaos tests.
    """

    def run(with_scheduler=False):
        import django_rq

        queues = [django_rq.get_queue(name) for name in settings.RQ_QUEUE_NAMES]
        while True:
            # A real worker runs in autocommit, so jobs it enqueues reach Redis at once.
            # Here the test's transaction holds them back: release them, and go again
            # until no job enqueues another.
            with TestCase.captureOnCommitCallbacks(execute=True) as enqueued:
                SimpleWorker(queues, connection=redis).work(
                    burst=True, with_scheduler=with_scheduler
                )
            if not enqueued:
                return

    return run


@pytest.fixture
def enqueue(django_capture_on_commit_callbacks):
    """Enqueue a declared job and push it, as a committed request would.

    `enqueue(job, *args, owner=None, **options)`: `options` are any of Job.using()'s
    (queue, retries, delay, after, keep_result, ...). Returns the fresh row.
    """

    def make(job, *args, owner=None, **options):
        with django_capture_on_commit_callbacks(execute=True):
            record = job.using(**options).enqueue(*args, owner=owner)
        record.refresh_from_db()
        return record

    return make


@pytest.fixture
def ghost_record(django_capture_on_commit_callbacks):
    """A queued job whose function does not exist, as after a deploy that removed it.

    No declaration can name a missing function, so this one is recorded directly.
    """
    from jobs.services import job_enqueue

    with django_capture_on_commit_callbacks(execute=True):
        record = job_enqueue(func="nonexistent.module.func", kind="ghost")
    record.refresh_from_db()
    return record


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


def grant(user, *codenames):
    """Give `user` the jobs app's permissions `codenames` (view_ops, act_ops)."""
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="jobs", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)  # a fresh copy: permissions are cached


@pytest.fixture
def staff(django_user_model):
    """An on-call engineer: staff, who may look at the ops console and act in it."""
    user = django_user_model.objects.create_user(
        "charlie", "charlie@example.com", "correct horse 3", is_staff=True
    )
    return grant(user, "view_ops", "act_ops")


@pytest.fixture
def viewer(django_user_model):
    """Staff with the read-only ops permission alone."""
    user = django_user_model.objects.create_user(
        "vera", "vera@example.com", "correct horse 4", is_staff=True
    )
    return grant(user, "view_ops")


@pytest.fixture
def staff_only(django_user_model):
    """Staff with no ops permission: staff status alone grants neither."""
    return django_user_model.objects.create_user(
        "stan", "stan@example.com", "correct horse 5", is_staff=True
    )


@pytest.fixture
def worker_process(redis_server, tmp_path):
    """A real worker process, started as the Procfile starts it, on the test database.

    For tests whose data is committed (transactional tests, live server): the worker is
    a separate process with its own database connection, like in production.
    `worker_process(*queues, extra_env=None, worker_class="jobs.worker.Worker")`.
    """
    processes = []

    def start(*queues, extra_env=None, worker_class="jobs.worker.Worker"):
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
            "--worker-class",
            worker_class,
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


@pytest.fixture(scope="session")
def s3_endpoint():
    endpoint = S3Endpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def s3(s3_endpoint, settings):
    """Point the photo storage at a fresh bucket on the moto endpoint."""
    from botocore.config import Config

    client = s3_endpoint.client()
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "photos": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint.url,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "file_overwrite": True,
                "client_config": Config(
                    connect_timeout=1,
                    read_timeout=2,
                    retries={"max_attempts": 1},
                    signature_version="s3v4",
                ),
            },
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free port; this test's email goes to it."""
    server = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.controller.port
    yield server
    server.stop()
