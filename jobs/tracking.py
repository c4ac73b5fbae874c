"""The worker side of a job record: started, progress, finished or failed.

Every change is a conditional UPDATE on the row's current status, so a job that RQ
delivers twice, or a retry racing a requeue, can never move a finished row back to
running. Task functions opt in with @tracked; progress comes from report_progress().
"""

import functools
import logging
import math
import time
import uuid

from django.db.models import F
from django.utils import timezone
from rq import Retry, get_current_job

from jobs.alerts import notify_final_failure
from jobs.models import JobRecord
from jobs.services import DEPENDENCY_FAILED

logger = logging.getLogger("jobs")

Status = JobRecord.Status
RUNNABLE = (*JobRecord.WAITING, Status.STARTED)
RUN_LATER_LIMIT = 10_000  # RQ wants a cap on Retry results; a rate limit never reaches it


class AlreadyDone(Exception):
    """The row is terminal: this delivery of the job is a duplicate."""


class RunLater(Exception):
    """Raised by a task that cannot act yet (a rate limit): run it again in `seconds`.

    This is not a failure: it uses none of the job's retries, and its row says why it
    waits. RQ reschedules a job that returns a Retry, so workers need --with-scheduler.
    """

    def __init__(self, seconds, reason):
        super().__init__(reason)
        self.seconds = max(1, math.ceil(seconds))
        self.reason = reason


def tracked(func):
    """Run a task function under its job record, when there is one.

    Called outside a worker, or for an RQ job that has no row (enqueued from a shell),
    the function simply runs.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        rq_job = get_current_job()
        if rq_job is None:
            return func(*args, **kwargs)
        try:
            record = mark_started(rq_job.id)
        except AlreadyDone:
            logger.info("job %s skipped: its record is already terminal", rq_job.id)
            return None
        if record is None:
            return func(*args, **kwargs)

        began = time.monotonic()
        try:
            result = func(*args, **kwargs)
        except RunLater as later:
            mark_waiting(record, later)
            return Retry(max=RUN_LATER_LIMIT, interval=later.seconds)
        except Exception as exc:
            mark_failed(
                record,
                exc,
                retrying=rq_job.should_retry,
                delayed=_next_delay(rq_job),
                duration=time.monotonic() - began,
            )
            raise
        mark_finished(record, result, duration=time.monotonic() - began)
        return result

    return wrapper


def mark_started(job_id):
    try:
        uuid.UUID(str(job_id))
    except ValueError:
        return None  # not one of ours: job records have UUIDs
    updated = JobRecord.objects.filter(pk=job_id, status__in=RUNNABLE).update(
        status=Status.STARTED,
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        stage="Running",
    )
    if not updated:
        if JobRecord.objects.filter(pk=job_id).exists():
            raise AlreadyDone(job_id)
        return None
    record = JobRecord.objects.get(pk=job_id)
    logger.info("job started id=%s kind=%s attempt=%s", record.id, record.kind, record.attempts)
    return record


def mark_finished(record, result, *, duration):
    JobRecord.objects.filter(pk=record.pk, status=Status.STARTED).update(
        status=Status.FINISHED,
        progress=100,
        stage="Done",
        result=result,
        finished_at=timezone.now(),
    )
    logger.info(
        "job finished id=%s kind=%s attempt=%s duration=%.3fs",
        record.id,
        record.kind,
        record.attempts,
        duration,
    )


def mark_failed(record, exc, *, retrying, delayed, duration):
    """Record a failed attempt; with `retrying` False it was the last one."""
    error = f"{type(exc).__name__}: {exc}"
    running = JobRecord.objects.filter(pk=record.pk, status=Status.STARTED)
    if retrying:
        running.update(
            status=Status.SCHEDULED if delayed else Status.QUEUED,
            stage=f"Retrying in {delayed}s" if delayed else "Retrying",
            error=error,
        )
        logger.warning(
            "job retrying id=%s kind=%s attempt=%s duration=%.3fs error=%r",
            record.id,
            record.kind,
            record.attempts,
            duration,
            error,
        )
        return
    failed = running.update(
        status=Status.FAILED, stage="Failed", error=error, finished_at=timezone.now()
    )
    logger.error(
        "job failed id=%s kind=%s attempt=%s duration=%.3fs error=%r",
        record.id,
        record.kind,
        record.attempts,
        duration,
        error,
    )
    # Only the delivery that moved the row tells staff: a duplicate finds it failed already.
    if failed:
        notify_final_failure(record, error=error)
    # Steps that waited on this one will never run: say so on their rows.
    JobRecord.objects.filter(depends_on=record, status__in=JobRecord.WAITING).update(
        status=Status.CANCELED, stage=DEPENDENCY_FAILED, finished_at=timezone.now()
    )


def mark_waiting(record, later):
    # This run does not count as an attempt: it only found the door closed.
    JobRecord.objects.filter(pk=record.pk, status=Status.STARTED).update(
        status=Status.SCHEDULED,
        attempts=F("attempts") - 1,
        stage=f"{later.reason}; next try in {later.seconds}s",
    )
    logger.info(
        "job waiting id=%s kind=%s seconds=%s reason=%r",
        record.id,
        record.kind,
        later.seconds,
        later.reason,
    )


def _next_delay(rq_job):
    return rq_job.get_retry_interval() if rq_job.should_retry else 0


def report_progress(percent, stage=""):
    """Record how far the current job has got; a no-op outside a tracked job."""
    rq_job = get_current_job()
    if rq_job is None:
        return
    JobRecord.objects.filter(pk=rq_job.id, status=Status.STARTED).update(
        progress=max(0, min(100, int(percent))), stage=stage[:200]
    )
