"""The articles' BullMQ knobs, each with its RQ counterpart: priorities, TTLs, the limiter."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from jobs.models import JobRecord
from jobs.ratelimit import take_slot
from jobs.tasks import prune_job_records
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def test_workers_take_high_then_default_then_low(run_jobs, redis, enqueue):
    for queue in ["low", "default", "high", "low", "high"]:
        enqueue(tasks.record_order, queue, queue=queue)

    run_jobs()

    order = [label.decode() for label in redis.lrange("test:order", 0, -1)]
    assert order == ["high", "high", "default", "low", "low"]


def test_result_and_failure_ttls_are_applied_per_kind(run_jobs, redis, settings, enqueue):
    settings.JOB_RETRY_BASE_SECONDS = 0
    ok = enqueue(tasks.succeed, 1, keep_result=3600)
    bad = enqueue(tasks.always_fail, keep_failure=7200)

    run_jobs()

    assert 3590 <= redis.ttl(f"rq:job:{ok.id}") <= 3600
    assert 7190 <= redis.ttl(f"rq:job:{bad.id}") <= 7200


def test_the_welcome_email_keeps_its_result_a_day_and_its_failure_a_week(
    client, run_jobs, redis, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/accounts/signup/",
            {
                "username": "ed",
                "email": "ed@example.com",
                "password1": "a long passphrase 1",
                "password2": "a long passphrase 1",
            },
        )
    run_jobs()

    welcome = JobRecord.objects.get(kind="send_welcome_email")
    assert welcome.options["result_ttl"] == 24 * 3600
    assert welcome.options["failure_ttl"] == 7 * 24 * 3600
    assert 24 * 3600 - 10 <= redis.ttl(f"rq:job:{welcome.id}") <= 24 * 3600


def test_the_limiter_allows_limit_per_window(redis):
    waits = [take_slot("test", limit=3, window_seconds=2) for _ in range(4)]

    assert waits[:3] == [0, 0, 0]
    assert 1.5 < waits[3] <= 2.0


def test_a_job_over_the_email_limit_waits_for_a_slot_and_never_fails(
    run_jobs, redis, settings, fast_forward, enqueue
):
    settings.EMAIL_RATE_LIMIT = 2
    settings.EMAIL_RATE_WINDOW_SECONDS = 60
    records = [enqueue(tasks.send_one_email, i) for i in range(3)]

    run_jobs()

    statuses = sorted(
        JobRecord.objects.filter(pk__in=[r.pk for r in records]).values_list("status", flat=True)
    )
    assert statuses == ["finished", "finished", "scheduled"]
    waiting = JobRecord.objects.get(status="scheduled")
    assert waiting.attempts == 0  # a closed door is not an attempt
    assert waiting.stage.startswith("Waiting for a email slot (2 per 60s); next try in")
    assert str(waiting.id) in ScheduledJobRegistry("default", connection=redis).get_job_ids()
    assert len(mail.outbox) == 2

    redis.delete("ratelimit:email")  # the window has passed
    fast_forward()
    run_jobs(with_scheduler=True)

    waiting.refresh_from_db()
    assert waiting.status == "finished"
    assert waiting.attempts == 1
    assert len(mail.outbox) == 3


def make_record(status, days_ago, **fields):
    record = JobRecord.objects.create(kind="old", func="x.y", status=status, **fields)
    finished = timezone.now() - timedelta(days=days_ago)
    JobRecord.objects.filter(pk=record.pk).update(
        finished_at=finished if status in JobRecord.TERMINAL else None, created_at=finished
    )
    return record


def test_pruning_deletes_old_ended_records_and_never_waiting_or_running_ones(settings):
    settings.JOB_RECORD_RETENTION_DAYS = 30
    old_finished = make_record("finished", 40)
    old_failed = make_record("failed", 40)
    recent = make_record("finished", 5)
    running = make_record("started", 40)
    waiting = make_record("queued", 40)
    parent = make_record("finished", 40)
    make_record("deferred", 40, depends_on=parent)

    result = prune_job_records()

    left = set(JobRecord.objects.values_list("pk", flat=True))
    assert old_finished.pk not in left and old_failed.pk not in left
    assert {recent.pk, running.pk, waiting.pk, parent.pk} <= left
    assert result["job_records"] == 2
