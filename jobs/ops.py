"""Staff operations over RQ: queue depths, workers, cron entries, and the failed set.

RQ's registries are where failed jobs keep their tracebacks; JobRecord rows are what
people see. Reads here join the two by id. Writes go through jobs.services for jobs
that have a row, so the row and Redis agree, and use RQ directly only for jobs that
were enqueued outside the engine (from a shell, or by a library).

Nothing read from Redis is trusted to load: a job whose data cannot be deserialized,
whose hash is gone, or whose function does not exist is still listed, and can be
requeued or deleted.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import django_rq
from django.conf import settings
from django.utils import timezone
from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from jobs import states
from jobs.models import JobRecord
from jobs.services import job_requeue
from jobs.worker import IDLE, live_workers

logger = logging.getLogger("jobs.ops")

Status = JobRecord.Status
UNFINISHED = (*JobRecord.WAITING, Status.STARTED)
JOB_ID = re.compile(r"^[\w-]+$")  # what RQ accepts as a job id
FAILED_PAGE_SIZE = 200
# Retries go to the front of a queue, so the head is not always the oldest job; a few
# from the head find the oldest without reading a long queue.
HEAD = 10


class FailedJobError(Exception):
    """An action on a failed job that cannot be done; the message tells staff why."""


# Reads


def queue_waiting(name):
    """How many jobs wait in RQ's queue `name`, and for how long the oldest has waited.

    Waiting means ready to run and not yet taken by a worker: scheduled and deferred
    jobs are not late, and rows still pending (Redis was down) are the sweeper's.
    """
    queue = django_rq.get_queue(name)
    now = timezone.now()
    enqueued = [
        job.enqueued_at
        for job in (_load(queue, job_id)[0] for job_id in queue.get_job_ids(0, HEAD))
        if job is not None and job.enqueued_at
    ]
    oldest = max(0.0, (now - min(enqueued)).total_seconds()) if enqueued else None
    return {"waiting": queue.count, "oldest_waiting_seconds": oldest}


def queue_backlog():
    """Per queue: the waiting count, the oldest waiting age, and whether either is too high."""
    report = {}
    for name in settings.RQ_QUEUE_NAMES:
        waiting = queue_waiting(name)
        oldest = waiting["oldest_waiting_seconds"] or 0
        waiting["backlog"] = (
            waiting["waiting"] > settings.QUEUE_ALERT_WAITING
            or oldest > settings.QUEUE_ALERT_AGE_SECONDS
        )
        report[name] = waiting
    return report


def queue_overview():
    """Every queue with its registry counts, the oldest waiting age and the backlog flag."""
    backlog = queue_backlog()
    rows = []
    for name in settings.RQ_QUEUE_NAMES:
        queue = django_rq.get_queue(name)
        rows.append(
            {
                "name": name,
                "queued": backlog[name]["waiting"],
                "started": queue.started_job_registry.count,
                "scheduled": queue.scheduled_job_registry.count,
                "deferred": queue.deferred_job_registry.count,
                "failed": queue.failed_job_registry.count,
                "finished": queue.finished_job_registry.count,
                "oldest_waiting_seconds": backlog[name]["oldest_waiting_seconds"],
                "backlog": backlog[name]["backlog"],
            }
        )
    return rows


def worker_list():
    """Live RQ workers: name, queues, state, current job and last heartbeat.

    RQ keeps a dead worker's entry for minutes; a worker counts here only while its
    own heartbeat key (jobs.worker) is fresh.
    """
    connection = django_rq.get_connection("default")
    registered = Worker.all(connection=connection)
    alive = live_workers([worker.name for worker in registered], connection=connection)
    workers = []
    for worker in registered:
        if worker.name not in alive:
            continue
        workers.append(
            {
                "name": worker.name,
                "queues": worker.queue_names(),
                "state": worker.get_state(),
                "current_job_id": None if alive[worker.name] == IDLE else alive[worker.name],
                "last_heartbeat": worker.last_heartbeat,
                "successful": worker.successful_job_count,
                "failed": worker.failed_job_count,
            }
        )
    return sorted(workers, key=lambda worker: worker["name"])


def cron_entries():
    """rq-scheduler's entries, soonest first: cron string (or interval) and next run."""
    scheduler = django_rq.get_scheduler("default")
    entries = []
    try:
        for job, next_run in scheduler.get_jobs(with_times=True):
            entries.append(
                {
                    "id": job.id,
                    "func": _func_name(job),
                    "queue": job.origin,
                    "cron": job.meta.get("cron_string", ""),
                    "interval": job.meta.get("interval"),
                    "next_run": _aware(next_run),
                }
            )
    except Exception:  # one unreadable entry must not take the dashboard down
        logger.exception("could not read every rq-scheduler entry")
    return entries


@dataclass
class FailedJob:
    """A job in one of RQ's failed registries, with its record when it has one."""

    queue: str
    id: str
    record: JobRecord | None
    func: str
    problem: str  # why RQ's copy cannot be read, or ""
    args: object = None
    kwargs: object = None
    meta: object = None
    traceback: str = ""
    failed_at: datetime | None = None

    @property
    def ref(self):
        return f"{self.queue}:{self.id}"

    @property
    def kind(self):
        if self.record is not None:
            return self.record.kind
        return (self.meta or {}).get("kind") or self.func

    @property
    def error(self):
        """One line: the record's error, else the last line of RQ's traceback."""
        if self.record is not None and self.record.error:
            return self.record.error
        return _last_line(self.traceback) or self.problem


def failed_count():
    return sum(django_rq.get_queue(name).failed_job_registry.count for name in _queues())


def failed_list(*, limit=FAILED_PAGE_SIZE):
    """The failed jobs of every queue, most recent first within each queue."""
    ids = []
    for name in _queues():
        registry = django_rq.get_queue(name).failed_job_registry
        ids += [(name, job_id) for job_id in registry.get_job_ids(0, limit - 1, desc=True)]
    ids = ids[:limit]
    records = _records([job_id for _, job_id in ids])
    return [_describe(name, job_id, records.get(job_id)) for name, job_id in ids]


def failed_get(queue_name, job_id):
    """One failed job with its traceback and arguments; None if it is not in the failed set."""
    if not _in_failed_set(queue_name, job_id):
        return None
    return _describe(queue_name, job_id, _records([job_id]).get(job_id))


def failed_refs(values):
    """Parse "queue:job id" references from a form, dropping any that are malformed."""
    refs = []
    for value in values:
        queue_name, _, job_id = value.partition(":")
        if queue_name in _queues() and JOB_ID.match(job_id) and (queue_name, job_id) not in refs:
            refs.append((queue_name, job_id))
    return refs


# Writes


def failed_job_requeue(*, queue_name, job_id):
    """Run a failed job again. A job with a record is pushed again from its row."""
    if not _in_failed_set(queue_name, job_id):
        raise FailedJobError("It is no longer in the failed set.")
    queue = django_rq.get_queue(queue_name)
    record = _records([job_id]).get(job_id)
    if record is not None:
        _requeue_record(queue, record)
        return
    job, problem = _load(queue, job_id)
    if job is None:
        raise FailedJobError(f"{problem} It can only be deleted.")
    try:
        queue.failed_job_registry.requeue(job)
    except InvalidJobOperation:  # someone else requeued or deleted it a moment ago
        raise FailedJobError("It is no longer in the failed set.") from None
    logger.info("job requeued id=%s kind=%s source=rq", job_id, _func_name(job))


def failed_job_delete(*, queue_name, job_id):
    """Remove a failed job from Redis. Its record, if any, stays as history."""
    if not _in_failed_set(queue_name, job_id):
        raise FailedJobError("It is no longer in the failed set.")
    queue = django_rq.get_queue(queue_name)
    job, _ = _load(queue, job_id)
    record = _records([job_id]).get(job_id)
    if record is not None and record.status in UNFINISHED:
        # Without its RQ copy the job will never run: the row must not say it will.
        states.gave_up(record, error=_gave_up_reason(queue_name, job_id))
    if job is not None:
        try:
            job.delete()
        except Exception:  # a half-readable job is removed key by key below
            logger.exception("job %s: RQ could not delete it cleanly", job_id)
    queue.failed_job_registry.remove(job_id)
    queue.connection.delete(Job.key_for(job_id))
    logger.info("job deleted id=%s queue=%s", job_id, queue_name)


def failed_jobs_requeue(refs):
    """Requeue each (queue, job id); returns how many went back and the errors of the rest."""
    return _each(failed_job_requeue, refs)


def failed_jobs_delete(refs):
    return _each(failed_job_delete, refs)


def failed_all_refs():
    """Every (queue, job id) in the failed sets, for "requeue all" and "delete all"."""
    return [
        (name, job_id)
        for name in _queues()
        for job_id in django_rq.get_queue(name).failed_job_registry.get_job_ids()
    ]


# Helpers


def _queues():
    return list(settings.RQ_QUEUE_NAMES)


def _in_failed_set(queue_name, job_id):
    if queue_name not in _queues() or not JOB_ID.match(job_id):
        return False
    return job_id in django_rq.get_queue(queue_name).failed_job_registry


def _records(job_ids):
    """Records by RQ job id; ids that are not UUIDs were never ours."""
    pks = {}
    for job_id in job_ids:
        try:
            pks[uuid.UUID(job_id)] = job_id
        except ValueError:
            continue
    found = JobRecord.objects.select_related("owner").in_bulk(list(pks))
    return {pks[pk]: record for pk, record in found.items()}


def _load(queue, job_id):
    """RQ's copy of a job, or None and the reason it cannot be had."""
    try:
        return Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer), ""
    except NoSuchJobError:
        if queue.connection.exists(Job.key_for(job_id)):
            return None, "Its data in Redis cannot be read."
        return None, "Its data is gone from Redis."
    except Exception as exc:  # whatever else a damaged hash raises
        return None, f"Its data in Redis cannot be read ({type(exc).__name__})."


def _describe(queue_name, job_id, record):
    queue = django_rq.get_queue(queue_name)
    job, problem = _load(queue, job_id)
    failed = FailedJob(
        queue=queue_name,
        id=job_id,
        record=record,
        func=record.func if record else "",
        problem=problem,
    )
    if job is None:
        return failed
    failed.meta = job.meta
    failed.func = _func_name(job)
    try:
        failed.args, failed.kwargs = job.args, job.kwargs
    except Exception:  # the serializer could not read them
        failed.problem = "Its function and arguments cannot be deserialized."
    try:
        result = job.latest_result()
    except Exception:
        result = None
    if result is not None:
        failed.traceback = result.exc_string or ""
        failed.failed_at = result.created_at
    failed.failed_at = job.ended_at or failed.failed_at
    return failed


def _func_name(job):
    try:
        return job.func_name or ""
    except Exception:  # DeserializationError, or anything a custom serializer raises
        return "(unreadable)"


def _requeue_record(queue, record):
    if record.status == Status.FINISHED:
        raise FailedJobError("Its record says it finished: this copy is stale, delete it.")
    if record.status in UNFINISHED:
        # RQ gave up on it without the row hearing: the task never reached @tracked (its
        # function does not import) or its work horse was killed. Close the row first,
        # so that job_requeue, which only revives failed or canceled rows, can run it.
        states.gave_up(record, error=_gave_up_reason(queue.name, str(record.id)))
        record.refresh_from_db()
    if not job_requeue(record):
        raise FailedJobError(f"Its record is {record.get_status_display().lower()}.")


def _gave_up_reason(queue_name, job_id):
    return _describe(queue_name, job_id, None).error or "The worker gave up on this job."


def _each(action, refs):
    done, errors = 0, []
    for queue_name, job_id in refs:
        try:
            action(queue_name=queue_name, job_id=job_id)
        except FailedJobError as exc:
            errors.append(f"{job_id}: {exc}")
        else:
            done += 1
    return done, errors


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _aware(value):
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)  # rq-scheduler hands out naive UTC
    return value
