"""Reads for the job engine."""

from collections.abc import Iterable
from datetime import UTC, datetime
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


def job_label(record: JobRecord) -> str:
    """The job's name for people: its declaration's `label` (jobs.base), else its kind
    as a sentence."""
    from jobs.base import label_from_name, registry

    declared = registry.get(record.func)
    return declared.label if declared else label_from_name(record.kind)


def job_sentence(record: JobRecord) -> str:
    """What the job is and how the queue runs it, for its owner: its declaration's `about`,
    then its queue, its delay or schedule, and its retries."""
    from jobs.base import registry

    declared = registry.get(record.func)
    parts = [declared.about] if declared and declared.about else [f"{job_label(record)}."]
    if declared and declared.cron:
        parts.append(
            f"rq-scheduler puts it on the {record.queue} queue on its schedule, and a worker "
            "runs it in the background."
        )
    else:
        parts.append(
            f"It runs on a worker, in the background, taken from the {record.queue} queue, "
            "so the request that asked for it did not wait."
        )
    if record.run_at:
        at = record.run_at.astimezone(UTC)
        parts.append(
            f"It waits in RQ's scheduled registry until {at:%H:%M:%S} UTC, "
            "and only then joins its queue."
        )
    if record.max_attempts > 1:
        parts.append(
            f"If an attempt fails, it is tried again, up to {record.max_attempts} attempts, "
            "waiting longer each time."
        )
    else:
        parts.append("It is tried once: a failure is final.")
    return " ".join(parts)


# Which docs page explains a job, by the app that declares it (docs/README.md lists them).
DOCS_BY_APP = {
    "accounts": "docs/03-producers-and-workers.md",
    "uploads": "docs/04-photo-uploads.md",
    "jobs": "docs/reliability.md",
}
DOCS_DEFAULT = "docs/01-the-queue-pattern.md"


def job_how_it_works(record: JobRecord) -> dict[str, str]:
    """Where the job's code lives and which docs page explains it."""
    module, _, function = record.func.rpartition(".")
    app = module.split(".")[0]
    return {
        "code": f"{module.replace('.', '/')}.py" if module else "",
        "function": function,
        "docs": DOCS_BY_APP.get(app, DOCS_DEFAULT),
        "queue_docs": DOCS_DEFAULT,
    }


def job_story(record: JobRecord, attempts: list[JobAttempt] | None = None) -> dict[str, Any]:
    """What happened to the job, for its owner: a sentence, a timeline and durations.

    Built from the record, its ended attempts (job_attempts) and its events; owner-safe:
    a worker's name, never its host, error text or traceback. Two queries at most.
    """
    if attempts is None:
        attempts = job_attempts(record)
    label = job_label(record)
    timeline: list[dict[str, Any]] = [{"at": record.created_at, "text": "Recorded"}]
    if record.run_at:
        # RQ's scheduler may start a job up to a second before its time: the entry still
        # reads before the first start, at its own time.
        starts = [attempt.started_at for attempt in attempts] + [record.started_at]
        first = min([record.run_at, *filter(None, starts)])
        timeline.append({"at": record.run_at, "text": "Scheduled to run", "order": first})
    held = bool(record.run_at and record.enqueued_at and record.enqueued_at < record.run_at)
    if record.enqueued_at:
        text = "Held in RQ's scheduled registry" if held else "Queued"
        timeline.append({"at": record.enqueued_at, "text": text})
    for attempt in attempts:
        if attempt.outcome == JobAttempt.Outcome.FINISHED:
            continue
        if attempt.started_at:
            timeline.append({"at": attempt.started_at, "text": f"Attempt {attempt.number} started"})
        outcome = attempt.get_outcome_display()
        timeline.append({"at": attempt.ended_at, "text": f"Attempt {attempt.number}: {outcome}"})
        if attempt.next_attempt_at:
            timeline.append({"at": attempt.next_attempt_at, "text": f"Retry #{attempt.number + 1}"})
    for event in record.events.all():
        timeline.append({"at": event.at, "text": event.message or event.kind.capitalize()})
    if record.started_at:
        timeline.append({"at": record.started_at, "text": f"Attempt {record.attempts} started"})
    if record.finished_at and record.status in ENDED:
        timeline.append({"at": record.finished_at, "text": record.get_status_display()})
    timeline.sort(key=lambda entry: entry.get("order", entry["at"]))
    for entry in timeline:
        entry.pop("order", None)
    waited = ran = None
    if record.started_at and record.enqueued_at:
        # A delayed job waits in its queue from its time on, not from when RQ got it.
        due = record.run_at if held else record.enqueued_at
        waited = max(0.0, (record.started_at - due).total_seconds())
    if record.started_at and record.finished_at and record.finished_at >= record.started_at:
        ran = (record.finished_at - record.started_at).total_seconds()
    next_attempt_at = None
    if record.status in JobRecord.WAITING and attempts:
        next_attempt_at = attempts[-1].next_attempt_at
    return {
        "label": label,
        "sentence": job_sentence(record),
        "timeline": timeline,
        "waited": waited,
        "ran": ran,
        "worker": record.worker,
        "run_at": record.run_at if record.status == JobRecord.Status.SCHEDULED else None,
        "next_attempt_at": next_attempt_at,
        "request_seconds": record.request_seconds,
    }


def job_as_json(record: JobRecord, story: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job's public fields. `label` and, when given, `story` (job_story) were added
    later: the keys before them are a contract."""
    data = {
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
        "label": job_label(record),
    }
    if story is not None:
        data["story"] = {
            "sentence": story["sentence"],
            "timeline": [
                {"at": _iso(entry["at"]), "text": entry["text"]} for entry in story["timeline"]
            ],
            "waited": story["waited"],
            "ran": story["ran"],
            "worker": story["worker"],
            "run_at": _iso(story["run_at"]),
            "next_attempt_at": _iso(story["next_attempt_at"]),
            "request_seconds": story["request_seconds"],
        }
    return data


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
