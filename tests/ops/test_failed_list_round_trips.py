"""The failed list reads a page of jobs with a fixed number of Redis round trips and
database queries, however many jobs the page shows."""

import threading
import uuid
from contextlib import contextmanager
from unittest import mock

import django_rq
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from redis.client import Pipeline, Redis

from jobs.ops import selectors
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


@contextmanager
def redis_round_trips():
    """Count the requests sent to Redis, each a list of the commands it carried: a
    command alone is one request, a pipeline is one. Opening a connection (its HELLO
    and CLIENT handshake) is not counted: django-rq opens one per queue it hands out.
    Only this thread's requests count: a worker's heartbeat thread is not the page's."""
    sent = []
    execute_command, execute = Redis.execute_command, Pipeline.execute
    ours = threading.get_ident()

    def one(self, *args, **options):
        if threading.get_ident() == ours:
            sent.append([args[0]])
        return execute_command(self, *args, **options)

    def pipelined(self, *args, **kwargs):
        if threading.get_ident() == ours:
            sent.append([command[0][0] for command in self.command_stack])
        return execute(self, *args, **kwargs)

    with (
        mock.patch.object(Redis, "execute_command", one),
        mock.patch.object(Pipeline, "execute", pipelined),
    ):
        yield sent


@pytest.fixture
def failed_jobs(django_capture_on_commit_callbacks, run_jobs, alice):
    """`count` failed jobs on the default queue: recorded ones and one from a shell."""

    def make(count):
        calls = [(uuid.uuid4(), [], alice.pk) for _ in range(count - 1)]
        with django_capture_on_commit_callbacks(execute=True):
            tasks.always_fail.enqueue_many(calls)
        django_rq.get_queue("default").enqueue_call("nonexistent.module.func")
        run_jobs()
        assert selectors.failed_count() == count

    return make


def cost_of_the_page(client):
    with redis_round_trips() as sent, CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("ops:failed"))
    assert response.status_code == 200
    return len(response.context["failed"]), len(sent), len(queries)


def test_a_page_of_fifty_costs_what_a_page_of_five_does(staff_client, failed_jobs, redis):
    failed_jobs(5)
    staff_client.get(reverse("ops:failed"))  # sessions and pooled connections warmed up
    five = cost_of_the_page(staff_client)

    redis.flushdb()
    failed_jobs(50)
    fifty = cost_of_the_page(staff_client)

    assert (five[0], fifty[0]) == (5, 50)
    assert fifty[1:] == five[1:], f"5 jobs: {five[1:]}, 50 jobs: {fifty[1:]}"


def test_a_batch_of_failed_jobs_is_one_round_trip_and_one_query(failed_jobs):
    failed_jobs(20)
    job_ids = django_rq.get_queue("default").failed_job_registry.get_job_ids()

    with redis_round_trips() as sent, CaptureQueriesContext(connection) as queries:
        failed = selectors.failed_jobs_read("default", job_ids)

    assert (len(sent), len(queries)) == (1, 1), sent
    assert len(failed) == 20
    assert all(job.traceback and job.failed_at for job in failed)
    assert sum(job.record is not None for job in failed) == 19
