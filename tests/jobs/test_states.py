"""The state machine: each transition happens once, and only from the states it names."""

import uuid

import django_rq
import pytest
from django.core import mail

from jobs import states
from jobs.models import JobRecord
from jobs.selectors import job_as_json
from jobs.services import job_enqueue_many, job_push_many, job_repush, job_requeue
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admins(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]


def test_a_second_delivery_cannot_start_a_running_job(enqueue):
    record = enqueue(tasks.succeed, 1)

    assert states.started(record.id, worker="worker-1") is not None
    assert states.started(record.id, worker="worker-2") is None

    record.refresh_from_db()
    assert (record.attempts, record.worker) == (1, "worker-1")


def test_started_returns_the_row_exactly_as_a_query_reads_it(enqueue, django_user_model):
    """started() reads the row back in its own UPDATE (RETURNING), and converts each
    column as the ORM does: ids, JSON, times with their zone, the owner's key."""
    owner = django_user_model.objects.create_user("ada", password="x")
    record = enqueue(tasks.succeed, {"nested": [1, "two"]}, owner=owner, retries=2)

    started = states.started(record.id, worker="worker-1")

    read = JobRecord.objects.get(pk=record.pk)
    fields = [field.attname for field in JobRecord._meta.concrete_fields]
    assert {name: getattr(started, name) for name in fields} == {
        name: getattr(read, name) for name in fields
    }
    assert (started.status, started.attempts, started.owner_id) == ("started", 1, owner.pk)
    assert started.started_at.tzinfo is not None
    assert started._state.adding is False


def test_pushed_moves_a_pending_row_once_and_stamps_it(enqueue):
    from django.utils import timezone

    record = enqueue(tasks.succeed, 1)

    assert record.status == "queued"
    assert abs((timezone.now() - record.enqueued_at).total_seconds()) < 60
    assert states.pushed(record, status="scheduled") is False  # no longer pending
    assert JobRecord.objects.get(pk=record.pk).status == "queued"


def test_finished_changes_only_the_attempt_that_is_still_current(enqueue):
    record = enqueue(tasks.succeed, 1)
    attempt = states.started(record.id, worker="worker-1")
    JobRecord.objects.filter(pk=record.pk).update(attempts=5)  # a later attempt took over

    assert states.finished(attempt, result={"value": 1}, duration=0.1) is False
    assert JobRecord.objects.get(pk=record.pk).status == "started"

    attempt.attempts = 5
    assert states.finished(attempt, result={"value": 1}, duration=0.1) is True
    finished = JobRecord.objects.get(pk=record.pk)
    assert (finished.status, finished.result, finished.stage) == ("finished", {"value": 1}, "Done")
    assert (finished.progress, finished.error) == (100, "")


def test_a_duplicate_failing_after_the_job_finished_leaves_the_next_step_alone(enqueue):
    parent = enqueue(tasks.succeed, 1)
    child = enqueue(tasks.succeed, 2, after=parent)
    attempt = states.started(parent.id, worker="worker-1")
    states.finished(attempt, result={}, duration=0.1)

    # The same attempt, reported again by a duplicate delivery that then failed for good.
    assert states.failed(attempt, error="Flaky: late") is False

    child.refresh_from_db()
    assert child.status == "deferred"
    assert mail.outbox == []


def test_a_worker_given_up_for_dead_cannot_finish_the_new_attempt(enqueue):
    record = enqueue(tasks.succeed, 1, retries=2)
    first = states.started(record.id, worker="worker-1")
    assert states.recovered(first)
    second = states.started(record.id, worker="worker-2")

    assert states.finished(first, result={"from": "the dead"}, duration=1) is False
    assert states.finished(second, result={"from": "the living"}, duration=1) is True

    record.refresh_from_db()
    assert (record.status, record.result, record.attempts) == (
        "finished",
        {"from": "the living"},
        2,
    )


def test_recovering_the_last_attempt_fails_the_job_with_a_plain_reason_and_one_alert(enqueue):
    record = enqueue(tasks.succeed, 1)
    attempt = states.started(record.id, worker="worker-1")

    assert states.recovered(attempt) is True
    assert states.recovered(attempt) is False

    record.refresh_from_db()
    assert (record.status, record.error) == ("failed", "The worker running it stopped")
    assert len(mail.outbox) == 1


def test_a_requeued_job_gets_a_fresh_set_of_attempts(enqueue, run_jobs, settings):
    settings.JOB_RETRY_BASE_SECONDS = 0
    record = enqueue(tasks.always_fail, retries=1)
    run_jobs()
    record.refresh_from_db()
    assert (record.status, record.attempts, record.max_attempts) == ("failed", 2, 2)

    job_requeue(record=record)

    record.refresh_from_db()
    assert (record.attempts, record.max_attempts) == (2, 4)
    rq_job = django_rq.get_queue("default").fetch_job(str(record.id))
    assert rq_job.retries_left == 1
    run_jobs()
    record.refresh_from_db()
    assert (record.status, record.attempts) == ("failed", 4)
    assert job_as_json(record)["max_attempts"] == 4


def test_a_requeued_job_that_finishes_shows_no_old_error(enqueue, run_jobs, tmp_path):
    record = enqueue(tasks.fail_times, str(tmp_path), 1)
    run_jobs()
    record.refresh_from_db()
    assert record.error

    job_requeue(record=record)
    run_jobs()

    record.refresh_from_db()
    assert (record.status, record.error) == ("finished", "")


def test_a_row_pushed_again_gets_only_the_retries_it_has_left(enqueue, settings):
    settings.JOB_RETRY_BASE_SECONDS = 2
    record = enqueue(tasks.succeed, 1, retries=5)
    for worker in ("worker-1", "worker-2"):  # two attempts whose workers died
        states.recovered(states.started(record.id, worker=worker))
    record.refresh_from_db()

    job_repush(record=record)

    rq_job = django_rq.get_queue("default").fetch_job(str(record.id))
    assert rq_job.retries_left == 3
    assert rq_job.retry_intervals == [8, 16, 32]


def test_pushing_the_same_rows_twice_queues_each_job_once(redis, alice):
    ids = job_enqueue_many(
        func="tests.jobs.tasks.succeed",
        kind="send_digest_email",
        jobs=[(uuid.uuid5(uuid.NAMESPACE_URL, f"push-twice:{i}"), [i], alice.pk) for i in range(3)],
    )
    job_push_many(ids=ids)
    JobRecord.objects.filter(pk__in=ids).update(status="pending")  # as if the reply was lost

    job_push_many(ids=ids)

    queued = django_rq.get_queue("default").get_job_ids()
    assert sorted(queued) == sorted(str(pk) for pk in ids)
