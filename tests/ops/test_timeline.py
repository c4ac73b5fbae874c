"""A job's timeline on /ops/jobs/<uuid>/: its attempts as workers ran them, kept in the
database with their tracebacks, the sweeper's recoveries and staff actions; and the
owner's own page, which shows the attempts without the internals."""

import os
import socket
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs import states
from jobs.models import JobAttempt, JobEvent, JobRecord
from jobs.ops.models import OpsAction
from jobs.selectors import job_attempts
from jobs.sweeper import sweep
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def timeline(client, record):
    response = client.get(reverse("ops:job", args=[record.id]))
    assert response.status_code == 200
    return response.content.decode()


def run_until_done(record, run_jobs, fast_forward):
    for _ in range(10):
        run_jobs(with_scheduler=True)
        record.refresh_from_db()
        if record.is_terminal:
            return record
        fast_forward()
    raise AssertionError(f"{record} did not end")


def test_every_attempt_gets_a_row_with_its_times_worker_host_and_error(
    alice, enqueue, run_jobs, fast_forward
):
    record = enqueue(tasks.fail_times, "timeline-1", 2, owner=alice, retries=2)

    run_until_done(record, run_jobs, fast_forward)

    attempts = job_attempts(record)
    assert [(a.number, a.outcome) for a in attempts] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "finished"),
    ]
    assert [a.error for a in attempts] == ["Flaky: run 1 failed", "Flaky: run 2 failed", ""]
    for attempt in attempts:
        assert attempt.worker  # the RQ worker's name
        assert attempt.host.startswith(f"{socket.gethostname()}:")
        assert attempt.started_at <= attempt.ended_at
        assert attempt.duration >= 0
    assert attempts[0].queued_at <= attempts[0].started_at  # the others were fast-forwarded
    # Each retry went back to its queue after its backoff, and says when.
    assert attempts[0].next_attempt_at == attempts[1].queued_at
    assert attempts[1].next_attempt_at == attempts[2].queued_at
    assert attempts[0].next_attempt_at - attempts[0].ended_at == pytest.approx(
        timedelta(seconds=2), abs=timedelta(milliseconds=200)
    )
    # The attempt that finished is the record itself: a job that finishes at once costs
    # no INSERT.
    assert JobAttempt.objects.filter(job=record).count() == 2
    assert (attempts[2].ended_at, attempts[2].worker) == (record.finished_at, record.worker)


def test_the_traceback_is_kept_in_the_database_and_outlives_redis(
    alice, staff, client, enqueue, run_jobs, redis
):
    record = enqueue(tasks.always_fail, owner=alice)
    run_jobs()
    redis.flushdb()  # RQ's copy and its traceback are gone

    client.force_login(staff)
    page = timeline(client, record)

    attempt = JobAttempt.objects.get(job=record)
    assert attempt.outcome == "failed"
    assert "Traceback (most recent call last)" in attempt.traceback
    assert 'raise Flaky("the downstream service is down")' in attempt.traceback
    assert "Traceback of attempt 1" in page
    assert "the downstream service is down" in page
    assert attempt.worker in page


def test_a_scheduled_retry_shows_its_next_attempt_time(alice, staff, client, enqueue, run_jobs):
    record = enqueue(tasks.fail_times, "timeline-2", 1, owner=alice, retries=1)
    run_jobs()
    record.refresh_from_db()
    assert record.status == "scheduled"
    next_at = JobAttempt.objects.get(job=record).next_attempt_at

    client.force_login(staff)
    page = timeline(client, record)

    assert f"Next attempt at {timezone.localtime(next_at):%H:%M:%S}" in page


def test_a_sweeper_recovery_appears_on_the_timeline(staff, client, enqueue, run_jobs):
    record = enqueue(tasks.succeed, 1, retries=1)
    states.started(record.id, worker="killed-worker")  # no heartbeat: it is dead
    then = timezone.now() - timedelta(seconds=60)
    JobRecord.objects.filter(pk=record.pk).update(updated_at=then, started_at=then)

    assert sweep()["recovered_abandoned"] == 1
    run_jobs()

    record.refresh_from_db()
    attempts = job_attempts(record)
    assert [(a.number, a.outcome, a.worker) for a in attempts] == [
        (1, "stopped", "killed-worker"),
        (2, "finished", record.worker),
    ]
    # The sweeper wrote the first, with the host and pid of the process that started it.
    assert attempts[0].host == f"{socket.gethostname()}:{os.getpid()}"
    event = JobEvent.objects.get(job=record)
    assert event.kind == "recovered"
    client.force_login(staff)
    page = timeline(client, record)
    assert "Its worker stopped" in page
    assert "The sweeper found the worker running it stopped; retrying" in page


def test_a_staff_action_appears_on_the_timeline_and_in_the_audit_trail(
    alice, staff, client, enqueue, run_jobs, django_capture_on_commit_callbacks
):
    record = enqueue(tasks.fail_times, "timeline-3", 1, owner=alice)
    run_jobs()
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ops:job-requeue", args=[record.id]))
    run_jobs()

    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == "finished"
    action = OpsAction.objects.get()
    assert (action.actor, action.verb, action.job_ids) == (staff, "requeue", [str(record.id)])
    event = JobEvent.objects.get(job=record, kind="staff")
    assert (event.actor, event.message) == (staff, "charlie: requeue")
    page = timeline(client, record)
    assert "by charlie: charlie: requeue" in page
    assert (
        page.index("Attempt 1: failed")
        < page.index("by charlie")
        < page.index("Attempt 2: finished")
    )


def test_a_cancel_from_the_timeline_removes_the_job_from_its_queue(
    alice, staff, client, enqueue, redis
):
    record = enqueue(tasks.succeed, 1, owner=alice, delay=timedelta(hours=1))
    client.force_login(staff)

    confirm = client.get(reverse("ops:job-cancel", args=[record.id]))
    response = client.post(reverse("ops:job-cancel", args=[record.id]))

    assert confirm.status_code == 200
    assert b"Yes, cancel" in confirm.content
    assert response.status_code == 302
    record.refresh_from_db()
    assert (record.status, record.stage) == ("canceled", "Canceled by staff")
    scheduled = redis.zrange("rq:scheduled:default", 0, -1)
    assert str(record.id).encode() not in scheduled


def test_an_action_that_no_longer_applies_says_so(alice, staff, client, enqueue, run_jobs):
    record = enqueue(tasks.succeed, 1, owner=alice)
    run_jobs()
    client.force_login(staff)

    response = client.post(reverse("ops:job-requeue", args=[record.id]), follow=True)

    assert b"It is finished: there is nothing to requeue." in response.content
    assert not OpsAction.objects.exists()


def test_the_owner_sees_the_attempts_without_the_internals(
    alice, client, enqueue, run_jobs, fast_forward
):
    record = enqueue(tasks.fail_times, "timeline-4", 1, owner=alice, retries=1)
    run_until_done(record, run_jobs, fast_forward)
    attempts = job_attempts(record)
    client.force_login(alice)

    page = client.get(reverse("jobs:detail", args=[record.id])).content.decode()

    assert "Attempt 1" in page
    assert "Failed; retrying" in page
    assert "Finished" in page
    assert f"{attempts[1].duration:.3f} s" in page
    # Not for the owner: the exception, the traceback, the worker and the host.
    assert "Flaky" not in page
    assert "Traceback" not in page
    assert attempts[0].worker not in page
    assert attempts[0].host not in page


def test_a_missing_job_is_a_404(staff, client):
    client.force_login(staff)

    response = client.get(reverse("ops:job", args=["00000000-0000-0000-0000-000000000000"]))

    assert response.status_code == 404
