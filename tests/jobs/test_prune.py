"""Nightly pruning (jobs.services.job_records_prune): which rows go, which stay, and that
it deletes in batches of primary keys without loading a single row."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.models import IdempotencyKey, JobRecord
from jobs.services import job_records_prune
from tests.factories import make_photo
from uploads.models import Photo

pytestmark = pytest.mark.django_db

DAYS = 30


def make_record(status, days_ago, **fields):
    record = JobRecord.objects.create(kind="old", func="x.y", status=status, **fields)
    finished = timezone.now() - timedelta(days=days_ago)
    JobRecord.objects.filter(pk=record.pk).update(
        finished_at=finished if status in JobRecord.TERMINAL else None, created_at=finished
    )
    return record


def prune(**options):
    return job_records_prune(ended_before=timezone.now() - timedelta(days=DAYS), **options)


def left():
    return set(JobRecord.objects.values_list("pk", flat=True))


def test_it_deletes_ended_rows_older_than_the_cutoff_and_nothing_else():
    old = [make_record(status, DAYS + 10) for status in JobRecord.TERMINAL]
    recent = make_record("finished", DAYS - 5)
    unfinished = [make_record(status, DAYS + 10) for status in JobRecord.WAITING]
    running = make_record("started", DAYS + 10)
    # A job requeued after it ended once may still carry that old end time.
    long_ago = timezone.now() - timedelta(days=DAYS + 10)
    JobRecord.objects.exclude(status__in=JobRecord.TERMINAL).update(finished_at=long_ago)

    result = prune()

    assert result["job_records"] == 3
    assert left() == {recent.pk, running.pk, *(record.pk for record in unfinished)}
    assert not left() & {record.pk for record in old}


def test_a_finished_parent_stays_while_a_job_waits_for_it():
    parent = make_record("finished", DAYS + 10)
    waiting = make_record("deferred", DAYS + 10, depends_on=parent)

    prune()

    assert left() == {parent.pk, waiting.pk}
    waiting.refresh_from_db()
    assert waiting.depends_on_id == parent.pk


def test_a_parent_whose_dependents_ended_goes_and_they_forget_it():
    parent = make_record("finished", DAYS + 10)
    child = make_record("failed", DAYS - 1, depends_on=parent)

    prune()

    assert left() == {child.pk}
    child.refresh_from_db()
    assert child.depends_on_id is None


def test_a_photo_keeps_its_row_and_loses_its_pruned_jobs(alice):
    resize = make_record("finished", DAYS + 10)
    publish = make_record("finished", DAYS + 10)
    kept = make_record("finished", DAYS - 1)
    photo = make_photo(alice, resize_job=resize, publish_job=publish)
    other = make_photo(alice, resize_job=kept)

    prune()

    photo.refresh_from_db()
    other.refresh_from_db()
    assert (photo.resize_job_id, photo.publish_job_id) == (None, None)
    assert other.resize_job_id == kept.pk


def test_it_prunes_old_idempotency_keys():
    now = timezone.now()
    IdempotencyKey.objects.create(key="old", done_at=now - timedelta(days=DAYS + 1))
    IdempotencyKey.objects.create(key="recent", done_at=now)
    IdempotencyKey.objects.create(key="claimed", claimed_at=now - timedelta(days=DAYS + 1))

    result = prune()

    assert result["idempotency_keys"] == 1
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"recent", "claimed"}


def test_it_deletes_in_batches_each_in_its_own_transaction():
    for _ in range(5):
        make_record("finished", DAYS + 10)
    make_record("finished", DAYS - 1)

    with CaptureQueriesContext(connection) as queries:
        result = prune(batch_size=2)

    sql = [query["sql"] for query in queries]
    deletes = [q for q in sql if q.startswith("DELETE") and "jobs_jobrecord" in q]
    savepoints = [q for q in sql if q.startswith("SAVEPOINT")]  # atomic() inside the test's
    assert result["job_records"] == 5
    assert len(deletes) == 3  # 2 + 2 + 1
    assert len(savepoints) == 3
    assert len(left()) == 1


def test_it_never_loads_a_row(monkeypatch, alice):
    parent = make_record("finished", DAYS + 10)
    make_record("canceled", DAYS + 10, depends_on=parent)
    make_photo(alice, resize_job=parent)

    def refuse(*args, **kwargs):
        raise AssertionError("a row was loaded into a model instance")

    monkeypatch.setattr(JobRecord, "from_db", classmethod(refuse))
    monkeypatch.setattr(Photo, "from_db", classmethod(refuse))

    assert prune()["job_records"] == 2


def test_a_pruned_job_takes_its_attempts_and_events_with_it():
    from jobs.models import JobAttempt, JobEvent

    old, kept = make_record("failed", DAYS + 10), make_record("failed", DAYS - 5)
    for record in (old, kept):
        JobAttempt.objects.create(
            job=record, number=1, outcome="failed", ended_at=timezone.now(), error="boom"
        )
        JobEvent.objects.create(job=record, kind="staff", message="charlie: requeue")

    assert prune()["job_records"] == 1

    assert set(JobAttempt.objects.values_list("job", flat=True)) == {kept.pk}
    assert set(JobEvent.objects.values_list("job", flat=True)) == {kept.pk}
