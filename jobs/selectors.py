"""Reads for the job engine."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Exists, QuerySet
from django.shortcuts import get_object_or_404

from jobs.models import JobAttempt, JobRecord

ENDED = (JobRecord.Status.FINISHED, JobRecord.Status.FAILED)


def jobs_for_user(user) -> QuerySet[JobRecord]:
    return JobRecord.objects.filter(owner=user).select_related("owner")


def job_get_for_user(user, job_id) -> JobRecord:
    """The job if `user` owns it; 404 otherwise, for staff too.

    The site's pages are the owner's. Staff read anyone's jobs on the ops pages and in
    the admin, which show what the owner must not see: the exception and its traceback.
    """
    return get_object_or_404(jobs_for_user(user), pk=job_id)


def job_attempts(record: JobRecord) -> list[JobAttempt]:
    """Every attempt that ended, in order: the rows of those that did not finish, and,
    for a finished job, the one that did, read off the record (which holds its times,
    worker and host, and is never saved as a row). One query."""
    attempts = list(record.attempt_rows.all())
    if record.status == JobRecord.Status.FINISHED:
        ran = None
        if record.started_at and record.finished_at:
            ran = (record.finished_at - record.started_at).total_seconds()
        attempts.append(
            JobAttempt(
                job=record,
                number=record.attempts,
                outcome=JobAttempt.Outcome.FINISHED,
                queued_at=record.enqueued_at,
                started_at=record.started_at,
                ended_at=record.finished_at,
                duration=ran,
                worker=record.worker,
                host=record.host,
            )
        )
    return attempts


def jobs_ended_between(
    user, since: datetime, until: datetime, *, exclude_kinds: Iterable[str] = ()
) -> QuerySet[JobRecord]:
    """Jobs of `user` that finished or failed in (since, until]."""
    return (
        jobs_for_user(user)
        .filter(status__in=ENDED, finished_at__gt=since, finished_at__lte=until)
        .exclude(kind__in=exclude_kinds)
    )


def jobs_ended_exist(owner, since, *, exclude_kinds: Iterable[str] = ()) -> Exists:
    """Exists() over jobs of `owner` that finished or failed after `since` (OuterRefs ok)."""
    ended = JobRecord.objects.filter(owner=owner, status__in=ENDED, finished_at__gt=since)
    return Exists(ended.exclude(kind__in=exclude_kinds))


def job_as_json(record: JobRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "kind": record.kind,
        "status": record.status,
        "status_label": record.get_status_display(),
        "progress": record.progress,
        "stage": record.stage,
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "error": job_public_error(record),
        "terminal": record.is_terminal,
        "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
    }


# A task that raises jobs.tracking.Permanent writes its message for people; the row
# stores it after the exception's name, like any other error.
PUBLIC_ERROR_PREFIX = "Permanent: "


def job_public_error(record: JobRecord) -> str:
    """What went wrong and what happens next, in a sentence for the job's owner.

    The row's `error` is the exception as the worker caught it: boto's and SMTP's
    errors carry endpoint URLs, bucket names and server replies. It stays on the row
    for staff (the ops pages show it with the traceback); people get this instead,
    empty when nothing went wrong.
    """
    if not record.error:
        return ""
    if record.error.startswith(PUBLIC_ERROR_PREFIX):
        return record.error.removeprefix(PUBLIC_ERROR_PREFIX)
    if record.status in (JobRecord.Status.FAILED, JobRecord.Status.CANCELED):
        tries = f"{record.attempts} attempt{'s' if record.attempts != 1 else ''}"
        return (
            f"Something went wrong on our side, and we stopped trying after {tries}. "
            "Our staff can see what happened."
        )
    return (
        f"Something went wrong on our side (attempt {record.attempts} of "
        f"{record.max_attempts}). We will try again automatically."
    )


def _iso(value):
    return value.isoformat() if value else None
