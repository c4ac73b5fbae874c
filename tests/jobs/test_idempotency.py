from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.idempotency import once
from jobs.models import IdempotencyKey, JobRecord
from jobs.tracking import RunLater
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def test_it_acts_once_per_key():
    calls = []

    assert once("k1", lambda: calls.append(1)) is True
    assert once("k1", lambda: calls.append(2)) is False
    assert once("k2", lambda: calls.append(3)) is True

    assert calls == [1, 3]


def test_a_failed_action_releases_the_key_for_a_retry():
    def boom():
        raise ConnectionError("SMTP down")

    with pytest.raises(ConnectionError):
        once("k", boom)
    calls = []
    assert once("k", lambda: calls.append(1)) is True
    assert calls == [1]


def test_a_claim_held_by_another_worker_makes_the_job_wait_for_the_lease():
    IdempotencyKey.objects.create(key="k", claimed_at=timezone.now() - timedelta(seconds=100))

    with pytest.raises(RunLater) as later:
        once("k", lambda: pytest.fail("acted while another worker held the claim"), lease=300)

    assert 199 <= later.value.seconds <= 201


def test_an_abandoned_claim_expires_so_the_work_is_not_lost():
    IdempotencyKey.objects.create(key="k", claimed_at=timezone.now() - timedelta(minutes=10))
    calls = []

    assert once("k", lambda: calls.append(1), lease=60) is True
    assert calls == [1]


def test_a_later_attempt_of_the_same_job_takes_over_the_claim_of_a_killed_one(enqueue):
    from jobs import states
    from jobs.tracking import _running

    record = enqueue(tasks.succeed, 1, retries=1)
    # Attempt 1 claimed the key and was killed mid-send: the claim is still held.
    IdempotencyKey.objects.create(
        key="welcome:1", claimed_at=timezone.now(), holder=str(record.id), holder_attempt=1
    )
    JobRecord.objects.filter(pk=record.pk).update(attempts=1)
    _running.record = states.started(record.id, worker="worker-2")
    calls = []
    try:
        assert once("welcome:1", lambda: calls.append("sent")) is True
    finally:
        _running.record = None

    assert calls == ["sent"]
