"""Idempotency keys: a side effect that happens once, however often its job runs.

RQ delivers at least once: a retry after a timeout, a requeue by staff or the sweeper
pushing a job Redis lost can all run the same job again. Jobs that send email or write
objects wrap the side effect in once(key, ...).

The claim is a conditional UPDATE, so two workers running the same job at the same time
cannot both act. A claim held by someone else is never taken as success: the job waits
(RunLater) and tries again. The holder is the job attempt that claimed the key, so a
later attempt of the same job, which the state machine starts only once the earlier
attempt ended or its worker died, takes the claim over at once; any other claimant
waits until the lease runs out.

What this cannot promise: an email accepted by the SMTP server just before the worker
died, with the key not yet marked done, is sent again by the retry. At least once,
never zero times.
"""

import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from jobs.models import IdempotencyKey
from jobs.tracking import RunLater, current_record

DEFAULT_LEASE = 300


def once(key: str, action: Callable[[], object], *, lease: int = DEFAULT_LEASE) -> bool:
    """Call action() unless it already completed under this key.

    Returns True when action ran now, False when it had completed before. Raises
    RunLater while another attempt holds the claim. If action raises, the claim is
    released so that a retry can act.
    """
    record = current_record()
    holder, attempt = (str(record.id), record.attempts) if record else (uuid.uuid4().hex, 0)
    IdempotencyKey.objects.get_or_create(key=key)
    now = timezone.now()
    claimable = (
        Q(claimed_at__isnull=True)
        | Q(claimed_at__lt=now - timedelta(seconds=lease))
        | Q(holder=holder, holder_attempt__lt=attempt)
    )
    claimed = IdempotencyKey.objects.filter(claimable, key=key, done_at__isnull=True).update(
        claimed_at=now, holder=holder, holder_attempt=attempt
    )
    if not claimed:
        claim = IdempotencyKey.objects.get(key=key)
        if claim.done_at is not None:
            return False
        # Held until its lease runs out, or released a moment ago (None): try again soon.
        wait = (claim.claimed_at + timedelta(seconds=lease) - now) if claim.claimed_at else None
        raise RunLater(wait.total_seconds() if wait else 1, "Another attempt holds this claim")
    mine = IdempotencyKey.objects.filter(key=key, holder=holder, holder_attempt=attempt)
    try:
        action()
    except BaseException:
        mine.update(claimed_at=None)
        raise
    mine.update(done_at=timezone.now())
    return True
