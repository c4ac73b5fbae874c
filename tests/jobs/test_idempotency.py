import pytest

from jobs.idempotency import once
from jobs.models import IdempotencyKey

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


def test_a_claim_held_by_another_worker_is_not_taken():
    from django.utils import timezone

    IdempotencyKey.objects.create(key="k", claimed_at=timezone.now())

    assert once("k", lambda: pytest.fail("acted while another worker held the claim")) is False


def test_an_abandoned_claim_expires_so_the_work_is_not_lost():
    from datetime import timedelta

    from django.utils import timezone

    IdempotencyKey.objects.create(key="k", claimed_at=timezone.now() - timedelta(minutes=10))
    calls = []

    assert once("k", lambda: calls.append(1), lease=60) is True
    assert calls == [1]
