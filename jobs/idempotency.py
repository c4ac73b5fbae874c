"""Idempotency keys: a side effect that happens once, however often its job runs.

RQ delivers at least once: a retry after a timeout, a requeue by staff or a sweeper
re-enqueueing a job Redis lost can all run the same job again. Jobs that send email or
write objects wrap the side effect in once(key, ...).

The claim is a conditional UPDATE, so two workers running the same job at the same time
cannot both act. A claim that is never completed (the worker was killed mid-send)
expires after `lease` seconds, so the job is retried rather than silently dropped: at
least once, never silently zero times.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from jobs.models import IdempotencyKey

DEFAULT_LEASE = 300


def once(key, action, *, lease=DEFAULT_LEASE):
    """Call action() unless it already completed under this key.

    Returns True when action ran now, False when it had run before or another worker
    holds the claim. If action raises, the claim is released so a retry can act.
    """
    IdempotencyKey.objects.get_or_create(key=key)
    now = timezone.now()
    claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - timedelta(seconds=lease))
    claimed = IdempotencyKey.objects.filter(claimable, key=key, done_at__isnull=True).update(
        claimed_at=now
    )
    if not claimed:
        return False
    try:
        action()
    except BaseException:
        IdempotencyKey.objects.filter(key=key, claimed_at=now).update(claimed_at=None)
        raise
    IdempotencyKey.objects.filter(key=key).update(done_at=timezone.now())
    return True
