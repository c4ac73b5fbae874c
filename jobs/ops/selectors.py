"""Reads for staff: queue depths, workers, cron entries, the failed sets, and health.

RQ's registries are where failed jobs keep their tracebacks; JobRecord rows are what
people see. Reads here join the two by id.

Nothing read from Redis is trusted to load: a job whose data cannot be deserialized,
whose hash is gone, or whose function does not exist is still listed, and can be
requeued or deleted (jobs.ops.services).

The failed set can hold many thousands of jobs, so failed jobs are read a batch at a
time: one pipeline per queue for the whole batch (failed_jobs_read), never a round
trip per job.
"""

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import django_rq
from django.db import connection
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result

from jobs import connections
from jobs.base import registry
from jobs.conf import jobs_settings
from jobs.models import JobRecord
from jobs.selectors import job_attempts
from jobs.worker import IDLE, live_workers

logger = logging.getLogger("jobs.ops")

JOB_ID = re.compile(r"^[\w-]+$")  # what RQ accepts as a job id
FAILED_PAGE_SIZE = 200
# Retries go to the front of a queue, so the head is not always the oldest job; a few
# from the head find the oldest without reading a long queue.
HEAD = 10


def queue_waiting(name):
    """How many jobs wait in RQ's queue `name`, and for how long the oldest has waited.

    Waiting means ready to run and not yet taken by a worker: scheduled and deferred
    jobs are not late, and rows still pending (Redis was down) are the sweeper's.
    """
    queue = connections.get_queue(name)
    now = timezone.now()
    enqueued = [
        job.enqueued_at
        for job in (rq_job_load(queue, job_id)[0] for job_id in queue.get_job_ids(0, HEAD))
        if job is not None and job.enqueued_at
    ]
    oldest = max(0.0, (now - min(enqueued)).total_seconds()) if enqueued else None
    return {"waiting": queue.count, "oldest_waiting_seconds": oldest}


def queue_backlog():
    """Per queue: the waiting count, the oldest waiting age, and whether either is too high."""
    report = {}
    for name in jobs_settings.RQ_QUEUE_NAMES:
        waiting = queue_waiting(name)
        oldest = waiting["oldest_waiting_seconds"] or 0
        waiting["backlog"] = (
            waiting["waiting"] > jobs_settings.QUEUE_ALERT_WAITING
            or oldest > jobs_settings.QUEUE_ALERT_AGE_SECONDS
        )
        report[name] = waiting
    return report


def queue_overview():
    """Every queue with its registry counts, the oldest waiting age and the backlog flag."""
    backlog = queue_backlog()
    rows = []
    for name in jobs_settings.RQ_QUEUE_NAMES:
        queue = connections.get_queue(name)
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
    connection = connections.get_connection("default")
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
                    "func": rq_job_func_name(job),
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
    rq_job: Job | None = field(default=None, repr=False)  # what requeue and delete act on

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
        return self.rq_error

    @property
    def rq_error(self):
        """What RQ says went wrong: its traceback's last line, or why it cannot be read."""
        return _last_line(self.traceback) or self.problem


def failed_count():
    return sum(connections.get_queue(name).failed_job_registry.count for name in queue_names())


def failed_list(*, limit=FAILED_PAGE_SIZE):
    """The failed jobs of every queue, most recent first within each queue.

    Redis is asked a fixed number of times per queue, however long the page.
    """
    failed = []
    for name in queue_names():
        registry = connections.get_queue(name).failed_job_registry
        job_ids = registry.get_job_ids(0, limit - len(failed) - 1, desc=True)
        # An id taken out of the set since it was listed is simply left out.
        failed += [job for job in failed_jobs_read(name, job_ids) if job is not None]
        if len(failed) >= limit:
            break
    return failed


def failed_get(queue_name, job_id):
    """One failed job with its traceback and arguments; None if it is not in the failed set."""
    if queue_name not in queue_names() or not JOB_ID.match(job_id):
        return None
    return failed_jobs_read(queue_name, [job_id])[0]


def failed_jobs_read(queue_name, job_ids):
    """The failed jobs `job_ids` of one queue, each with its record and RQ's copy.

    One Redis round trip and one query for the lot. An id no longer in the failed set
    gives None; one whose copy is gone or damaged gives a FailedJob saying so.
    """
    if not job_ids:
        return []
    queue = connections.get_queue(queue_name)
    with queue.connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.zscore(queue.failed_job_registry.key, job_id)
            pipe.hgetall(Job.key_for(job_id))
            pipe.xrevrange(Result.get_key(job_id), "+", "-", count=1)
        replies = pipe.execute(raise_on_error=False)
    records = records_for_rq_ids(job_ids)
    failed = []
    for index, job_id in enumerate(job_ids):
        score, data, results = replies[3 * index : 3 * index + 3]
        if score is None or isinstance(score, Exception):
            failed.append(None)
            continue
        job, problem = _rq_job_restore(queue, job_id, data)
        failed.append(_failed_job(queue_name, job_id, records.get(job_id), job, problem, results))
    return failed


def failed_refs(values):
    """Parse "queue:job id" references from a form, dropping any that are malformed."""
    names = set(queue_names())
    refs = {}  # a dict keeps the order and drops repeats
    for value in values:
        queue_name, _, job_id = value.partition(":")
        if queue_name in names and JOB_ID.match(job_id):
            refs[queue_name, job_id] = None
    return list(refs)


def failed_all_refs():
    """Every (queue, job id) in the failed sets now, for "requeue all" and "delete all".

    Ids only, one ZRANGE per queue: a few bytes a job, where the jobs themselves are
    read a batch at a time (failed_jobs_read).
    """
    return [
        (name, job_id)
        for name in queue_names()
        for job_id in connections.get_queue(name).failed_job_registry.get_job_ids()
    ]


def queue_names():
    return list(jobs_settings.RQ_QUEUE_NAMES)


def records_for_rq_ids(job_ids):
    """Records by RQ job id; ids that are not UUIDs were never ours."""
    pks = {}
    for job_id in job_ids:
        try:
            pks[uuid.UUID(job_id)] = job_id
        except ValueError:
            continue
    found = JobRecord.objects.select_related("owner").in_bulk(list(pks))
    return {pks[pk]: record for pk, record in found.items()}


def rq_job_load(queue, job_id):
    """RQ's copy of a job, or None and the reason it cannot be had."""
    try:
        return Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer), ""
    except NoSuchJobError:
        if queue.connection.exists(Job.key_for(job_id)):
            return None, "Its data in Redis cannot be read."
        return None, "Its data is gone from Redis."
    except Exception as exc:  # whatever else a damaged hash raises
        return None, f"Its data in Redis cannot be read ({type(exc).__name__})."


def _rq_job_restore(queue, job_id, data):
    """RQ's copy of a job from its hash as HGETALL returned it, or None and why not."""
    if isinstance(data, Exception):
        return None, f"Its data in Redis cannot be read ({type(data).__name__})."
    if not data:
        return None, "Its data is gone from Redis."
    job = queue.job_class(job_id, connection=queue.connection, serializer=queue.serializer)
    try:
        job.restore(data)
    except NoSuchJobError:  # the hash has no "data" field
        return None, "Its data in Redis cannot be read."
    except Exception as exc:  # whatever else a damaged hash raises
        return None, f"Its data in Redis cannot be read ({type(exc).__name__})."
    return job, ""


def _failed_job(queue_name, job_id, record, job, problem, results):
    failed = FailedJob(
        queue=queue_name,
        id=job_id,
        record=record,
        func=record.func if record else "",
        problem=problem,
    )
    if job is None:
        return failed
    failed.rq_job = job
    failed.meta = job.meta
    failed.func = rq_job_func_name(job)
    try:
        failed.args, failed.kwargs = job.args, job.kwargs
    except Exception:  # the serializer could not read them
        failed.problem = "Its function and arguments cannot be deserialized."
    result = _latest_result(job, job_id, results)
    if result is not None:
        failed.traceback = result.exc_string or ""
        failed.failed_at = result.created_at
    failed.failed_at = job.ended_at or failed.failed_at
    return failed


def _latest_result(job, job_id, results):
    """RQ's latest Result of a job from what XREVRANGE COUNT 1 returned, if readable."""
    if not results or isinstance(results, Exception):
        return None
    result_id, payload = results[0]
    try:
        return Result.restore(
            job_id,
            result_id.decode(),
            payload,
            connection=job.connection,
            serializer=job.serializer,
        )
    except Exception:  # a damaged entry: the job is listed without its traceback
        return None


def rq_job_func_name(job):
    try:
        return job.func_name or ""
    except Exception:  # DeserializationError, or anything a custom serializer raises
        return "(unreadable)"


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _aware(value):
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)  # rq-scheduler hands out naive UTC
    return value


def health():
    """What /healthz reports: can we reach the database and Redis, and who is working.

    A backlog is reported per queue, not counted as unhealthy: a load balancer that
    took this web process out of rotation would not make the workers any faster.
    """
    report = {"database": "ok", "redis": "ok", "workers": 0, "queues": {}}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means the same thing here: unhealthy
        report["database"] = f"error: {exc}"
    try:
        redis = connections.get_connection("default")
        redis.ping()
        report["workers"] = len(worker_list())
        report["queues"] = queue_backlog()
    except RedisError as exc:
        report["redis"] = f"error: {exc}"
    report["ok"] = report["database"] == "ok" and report["redis"] == "ok"
    return report


SEARCH_PAGE_SIZE = 50


def job_search(form):
    """The JobRecords a valid JobSearchForm matches, newest first.

    Each filter is one indexed column (status, kind, queue, owner, created_at, or the
    primary key's range for an id prefix), so a page of the newest matches is read from
    an index whatever the table's size; only error text is a scan.
    """
    data = form.cleaned_data
    records = JobRecord.objects.select_related("owner").order_by("-created_at")
    if id_range := form.id_range():
        records = records.filter(pk__gte=id_range[0], pk__lte=id_range[1])
    if error := form.error_text():
        records = records.filter(error__icontains=error)
    for name in ("status", "kind", "queue"):
        if data.get(name):
            records = records.filter(**{name: data[name]})
    if data.get("owner"):
        records = records.filter(owner__username__iexact=data["owner"].strip())
    if data.get("since"):
        records = records.filter(created_at__gte=data["since"])
    if data.get("until"):
        records = records.filter(created_at__lt=data["until"])
    return records


def job_kinds():
    """Every declared job's kind, for the search's suggestions."""
    return sorted({declared.name for declared in registry.values()})


@dataclass
class TimelineEntry:
    at: datetime | None
    what: str
    detail: str = ""
    who: str = ""
    css: str = ""


def job_timeline(record):
    """What happened to a job, in order: its attempts, the sweeper's doings, staff actions.

    Two queries (the row is given): attempts and events, and nothing per entry.
    """
    attempts = job_attempts(record)
    events = list(record.events.select_related("actor"))
    entries = [TimelineEntry(record.created_at, "Recorded", f"on queue {record.queue}")]
    for attempt in attempts:
        entries.append(
            TimelineEntry(
                attempt.started_at,
                f"Attempt {attempt.number} started",
                f"on {attempt.worker or 'a worker'}"
                + (f" ({attempt.host})" if attempt.host else "")
                + (f", after waiting {attempt.wait:.3f} s" if attempt.wait is not None else ""),
            )
        )
        ran = f" after {attempt.duration:.3f} s" if attempt.duration is not None else ""
        entries.append(
            TimelineEntry(
                attempt.ended_at,
                f"Attempt {attempt.number}: {attempt.get_outcome_display().lower()}{ran}",
                attempt.error,
                css="error" if attempt.error else "",
            )
        )
    for event in events:
        who = event.actor.get_username() if event.actor else ""
        entries.append(TimelineEntry(event.at, event.kind.capitalize(), event.message, who))
    if record.status == JobRecord.Status.STARTED:
        entries.append(
            TimelineEntry(
                record.started_at,
                f"Attempt {record.attempts} running",
                f"on {record.worker}; {record.progress}% {record.stage}",
            )
        )
    next_at = next_attempt_at(record, attempts)
    if next_at is not None:
        entries.append(TimelineEntry(next_at, "Next attempt", "due", css="muted"))
    entries.sort(key=lambda entry: entry.at or record.created_at)
    return {"entries": entries, "attempts": attempts, "events": events, "next_at": next_at}


def next_attempt_at(record, attempts):
    """When a scheduled job runs next: its retry time, or the delay it was enqueued with."""
    if record.status != JobRecord.Status.SCHEDULED:
        return None
    last = attempts[-1] if attempts else None
    if last is not None and last.number == record.attempts and last.next_attempt_at:
        return last.next_attempt_at
    return record.run_at
