"""The declared-job API (jobs.base): options written once, kind and path from the function."""

import uuid
from datetime import timedelta

import django_rq
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.tasks import send_welcome_email
from jobs.base import Job, job, registry
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def module_level_function():
    pass


def test_the_kind_and_the_path_come_from_the_function():
    assert send_welcome_email.name == "send_welcome_email"
    assert send_welcome_email.module_path == "accounts.tasks.send_welcome_email"
    # The path names the declared job itself: that is what RQ imports and calls.
    assert import_string(send_welcome_email.module_path) is send_welcome_email
    assert registry[send_welcome_email.module_path] is send_welcome_email


def test_enqueue_records_the_declared_options_on_the_row(alice, enqueue):
    record = enqueue(send_welcome_email, alice.pk, owner=alice)

    assert (record.kind, record.func, record.queue) == (
        "send_welcome_email",
        "accounts.tasks.send_welcome_email",
        "high",
    )
    assert record.args == [alice.pk]
    assert record.owner == alice
    assert record.max_attempts == 6  # retries=5
    assert record.options == {
        "retry_intervals": [2, 4, 8, 16, 32],
        "timeout": 60,
        "result_ttl": 24 * 3600,  # keep_result=timedelta(days=1), in seconds
        "failure_ttl": 7 * 24 * 3600,
    }
    rq_job = django_rq.get_queue("high").fetch_job(str(record.id))
    assert rq_job.func_name == "accounts.tasks.send_welcome_email"
    assert (rq_job.timeout, rq_job.result_ttl, rq_job.failure_ttl) == (60, 86400, 604800)


def test_the_worker_runs_the_declared_job_under_its_row(enqueue, run_jobs):
    record = enqueue(tasks.succeed, 7)

    run_jobs()

    record.refresh_from_db()
    assert (record.status, record.result) == ("finished", {"value": 7})


def test_using_changes_options_for_one_call_only(enqueue):
    later = enqueue(tasks.succeed, 1, queue="low", delay=timedelta(hours=1))
    now = enqueue(tasks.succeed, 2)

    assert (later.queue, later.status) == ("low", "scheduled")
    assert later.run_at > timezone.now() + timedelta(minutes=59)
    assert (now.queue, now.status, now.run_at) == ("default", "queued", None)
    assert tasks.succeed.queue == "default"


def test_a_job_id_makes_the_enqueue_idempotent(enqueue):
    job_id = uuid.uuid4()

    first = enqueue(tasks.succeed, 1, job_id=job_id)
    second = enqueue(tasks.succeed, 2, job_id=job_id)

    assert first.pk == second.pk == job_id
    assert second.args == [1]
    assert django_rq.get_queue("default").get_job_ids() == [str(job_id)]


def test_after_defers_a_job_until_its_parent_finished(enqueue, run_jobs):
    parent = enqueue(tasks.succeed, 1)
    child = enqueue(tasks.succeed, 2, after=parent)

    assert (child.status, child.depends_on_id) == ("deferred", parent.pk)
    run_jobs()
    child.refresh_from_db()
    assert child.status == "finished"


def test_enqueue_many_records_each_id_once(django_capture_on_commit_callbacks):
    ids = [uuid.uuid4(), uuid.uuid4()]
    calls = [(ids[0], [1], None), (ids[1], [2], None)]

    with django_capture_on_commit_callbacks(execute=True):
        tasks.succeed.enqueue_many(calls)
        tasks.succeed.enqueue_many(calls)  # a fan-out that runs again

    assert sorted(django_rq.get_queue("default").get_job_ids()) == sorted(map(str, ids))


def test_enqueue_many_refuses_per_call_options():
    with pytest.raises(TypeError, match="enqueue_many"):
        tasks.succeed.using(delay=timedelta(seconds=5)).enqueue_many([])


def test_using_cannot_swap_the_function():
    with pytest.raises(TypeError, match="options, not the function"):
        tasks.succeed.using(func=print)


def test_a_job_declared_inside_a_function_is_refused():
    with pytest.raises(ImproperlyConfigured, match="module level"):

        @job
        def nested():
            pass


def test_an_unknown_queue_is_refused_at_declaration():
    with pytest.raises(ImproperlyConfigured, match="queue 'urgent'"):
        Job(func=module_level_function, queue="urgent")
