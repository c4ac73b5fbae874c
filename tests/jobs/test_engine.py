import django_rq
import pytest
from django.test import override_settings
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from jobs.services import backoff_intervals, job_cancel, job_push, job_requeue
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def test_the_row_shares_its_id_with_the_rq_job(enqueue):
    record = enqueue(tasks.succeed, 1)

    job = django_rq.get_queue("default").fetch_job(str(record.id))
    assert job.func_name == "tests.jobs.tasks.succeed"
    assert job.args == [1]
    assert record.status == "queued"


def test_a_finished_job_records_result_and_times(run_jobs, enqueue):
    record = enqueue(tasks.succeed, 7)

    run_jobs()

    record.refresh_from_db()
    assert record.status == "finished"
    assert record.result == {"value": 7}
    assert record.started_at <= record.finished_at
    assert record.attempts == 1


def test_backoff_grows_exponentially():
    assert backoff_intervals(5, base=1) == [1, 2, 4, 8, 16]
    assert backoff_intervals(3, base=2) == [2, 4, 8]


@override_settings(JOB_RETRY_BASE_SECONDS=0)
def test_a_flaky_job_is_retried_until_it_succeeds(run_jobs, enqueue):
    record = enqueue(tasks.fail_times, "flaky-1", 2, retries=3)

    run_jobs()

    record.refresh_from_db()
    assert record.status == "finished"
    assert record.attempts == 3
    assert record.result == {"runs": 3}
    assert record.error == ""  # the earlier attempts' errors are not the job's outcome


@override_settings(JOB_RETRY_BASE_SECONDS=0)
def test_a_job_that_keeps_failing_ends_failed_after_its_last_attempt(run_jobs, redis, enqueue):
    record = enqueue(tasks.always_fail, retries=2)

    run_jobs()

    record.refresh_from_db()
    assert record.status == "failed"
    assert record.attempts == 3
    assert record.max_attempts == 3
    assert record.error == "Flaky: the downstream service is down"
    assert str(record.id) in FailedJobRegistry("default", connection=redis).get_job_ids()


def test_retries_wait_longer_each_time(run_jobs, redis, fast_forward, enqueue):
    record = enqueue(tasks.always_fail, retries=3)
    registry = ScheduledJobRegistry("default", connection=redis)
    waits, stages = [], []
    run_jobs()
    for _ in range(3):
        record.refresh_from_db()
        assert record.status == "scheduled"
        stages.append(record.stage)
        # RQ stores the due time in whole seconds, computed a moment after our row's
        # update: a second early at most, and late by however slow this machine is.
        scheduled_at = registry.get_scheduled_time(str(record.id))
        waits.append((scheduled_at - record.updated_at).total_seconds())
        assert fast_forward() == 1
        run_jobs(with_scheduler=True)

    record.refresh_from_db()
    assert stages == ["Retrying in 2s", "Retrying in 4s", "Retrying in 8s"]
    for wait, expected in zip(waits, [2, 4, 8], strict=True):
        assert expected - 1 <= wait <= expected + 3, waits
    assert record.status == "failed"
    assert record.attempts == 4


def test_a_job_delivered_twice_does_not_run_twice(run_jobs, enqueue):
    record = enqueue(tasks.fail_times, "once-1", 0)
    run_jobs()

    # RQ delivers it again, for example after a sweeper re-enqueued it.
    django_rq.get_queue("default").enqueue_call(
        "tests.jobs.tasks.fail_times", args=("once-1", 0), job_id=str(record.id)
    )
    run_jobs()

    record.refresh_from_db()
    assert record.status == "finished"
    assert record.attempts == 1
    assert record.result == {"runs": 1}


def test_progress_is_reported_only_while_running(run_jobs, enqueue):
    from jobs import states

    record = enqueue(tasks.report_then_read_row, 50, "Halfway")
    run_jobs()
    record.refresh_from_db()

    # Mid-run, the row said what the task reported; the finish then set it to 100 and Done.
    assert record.result == {"status": "started", "progress": 50, "stage": "Halfway"}
    assert (record.progress, record.stage) == (100, "Done")

    # A late report by that attempt, after it ended, cannot undo that.
    states.progressed(record, percent=10, stage="Late")
    record.refresh_from_db()
    assert (record.status, record.progress, record.stage) == ("finished", 100, "Done")


def test_when_redis_is_down_the_row_stays_pending(settings, enqueue):
    dead = "redis://127.0.0.1:1/0?socket_connect_timeout=0.2&socket_timeout=0.2"
    settings.RQ_QUEUES = {
        name: {**config, "URL": dead} for name, config in settings.RQ_QUEUES.items()
    }

    record = enqueue(tasks.succeed, 1)

    assert record.status == "pending"
    assert record.enqueued_at is None


def test_a_pending_row_can_be_pushed_later(run_jobs, settings, enqueue):
    good = settings.RQ_QUEUES
    settings.RQ_QUEUES = {
        name: {**c, "URL": "redis://127.0.0.1:1/0?socket_connect_timeout=0.2"}
        for name, c in good.items()
    }
    record = enqueue(tasks.succeed, 3)
    settings.RQ_QUEUES = good

    assert job_push(record=record) is True
    assert job_push(record=record) is True  # a second push is harmless
    run_jobs()

    record.refresh_from_db()
    assert record.status == "finished"
    assert record.attempts == 1


def test_a_dependent_job_waits_for_its_parent(run_jobs, enqueue):
    first = enqueue(tasks.succeed, 1)
    second = enqueue(tasks.succeed, 2, after=first)
    assert second.status == "deferred"

    run_jobs()

    second.refresh_from_db()
    assert second.status == "finished"


def test_when_a_parent_fails_its_dependents_are_canceled_and_requeue_revives_them(
    run_jobs, enqueue
):
    first = enqueue(tasks.fail_times, "parent-1", 1)
    second = enqueue(tasks.succeed, 2, after=first)
    run_jobs()
    second.refresh_from_db()
    assert second.status == "canceled"
    assert second.stage == "An earlier step failed"

    first.refresh_from_db()
    assert job_requeue(record=first) is True
    run_jobs()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("finished", "finished")
    assert first.attempts == 2


def test_a_canceled_job_does_not_run(run_jobs, enqueue):
    record = enqueue(tasks.succeed, 1)

    assert job_cancel(record=record) is True
    run_jobs()

    record.refresh_from_db()
    assert record.status == "canceled"
    assert record.attempts == 0
