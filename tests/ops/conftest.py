"""Failed jobs of every sort for the ops tests: recorded, RQ-only, unimportable, damaged."""

import logging
import uuid

import django_rq
import pytest
from django.urls import resolve
from rq.job import Job

from jobs.models import JobRecord
from tests.jobs import tasks


@pytest.fixture
def failed_record(alice, enqueue, run_jobs):
    """Alice's job that failed its only attempt and succeeds when run again."""
    record = enqueue(tasks.fail_times, f"ops-{uuid.uuid4()}", 1, owner=alice)
    run_jobs()
    record.refresh_from_db()
    assert record.status == "failed"
    return record


@pytest.fixture
def unimportable_job(run_jobs):
    """A job enqueued from a shell, with no record, whose function does not exist."""
    job = django_rq.get_queue("default").enqueue_call("nonexistent.module.func", args=(7,))
    run_jobs()
    assert job.get_status() == "failed"
    return job


@pytest.fixture
def unreadable_job(redis, unimportable_job):
    """A failed job whose data no serializer can read."""
    redis.hset(unimportable_job.key, "data", b"not a pickle")
    return unimportable_job


@pytest.fixture
def vanished_job_id(redis):
    """An id left in the failed set after its job's hash was deleted."""
    job_id = "vanished-job"
    registry = django_rq.get_queue("default").failed_job_registry
    redis.zadd(registry.key, {job_id: 9_999_999_999})
    assert not redis.exists(Job.key_for(job_id))
    return job_id


@pytest.fixture
def staff_client(client, staff):
    """The test client, logged in as staff."""
    client.force_login(staff)
    return client


@pytest.fixture
def post_and_commit(staff_client, django_capture_on_commit_callbacks):
    """POST a bulk action as staff and commit, as a request would; return the row of the
    job it recorded, after checking that the POST redirected to that job's page."""

    def post(url, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(url, data or {})
        assert response.status_code == 302
        match = resolve(response.url)
        assert match.view_name == "ops:bulk"
        return JobRecord.objects.get(pk=match.kwargs["job_id"])

    return post


def failed_ids(queue="default"):
    return django_rq.get_queue(queue).failed_job_registry.get_job_ids()


@pytest.fixture
def log_lines():
    """Messages the job engine logs, caught by our own handler so that these tests also
    run with pytest's logging plugin off (-p no:logging)."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger("jobs")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)
