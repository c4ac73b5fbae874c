"""Reads for the console's Busy, Scheduled and Cron tabs.

Each tab joins what RQ holds in Redis to the JobRecord rows people know, with a fixed
number of Redis round trips and database queries (per queue at most), however many
jobs there are: a page lists a capped number of jobs and says how many more there are.
Nothing here writes, not even RQ's own registry cleanups that some of its reads run.

- Busy: the jobs in each queue's StartedJobRegistry, with the live worker running each
  (jobs.worker's heartbeats say which workers are alive).
- Scheduled: the delayed jobs and retries waiting in each queue's ScheduledJobRegistry,
  soonest first.
- Cron: rq-scheduler's entries, each with the declared job it runs and that job's most
  recent record.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import django_rq
from django.db.models import Q, Subquery
from django.utils import timezone
from rq import Worker
from rq.job import Job
from rq.results import Result

from jobs import connections
from jobs.base import Job as DeclaredJob
from jobs.base import registry
from jobs.models import JobRecord
from jobs.ops.selectors import (
    JOB_ID,
    _latest_result,
    _rq_job_restore,
    queue_names,
    records_for_rq_ids,
    rq_job_func_name,
)
from jobs.schedules import fire
from jobs.worker import live_workers

BUSY_LIMIT = 200  # running jobs listed per queue; the page counts the rest
SCHEDULED_LIMIT = 100  # scheduled jobs listed, soonest first across every queue
CRON_LIMIT = 200  # rq-scheduler entries listed
FIRE = f"{fire.__module__}.{fire.__qualname__}"  # what our cron entries run


@dataclass
class RqJob:
    """A job RQ holds, with its record when it has one (jobs from a shell have none)."""

    queue: str
    id: str
    record: JobRecord | None
    func: str = ""
    problem: str = ""  # why RQ's copy cannot be read, or ""
    rq_job: Job | None = field(default=None, repr=False)

    @property
    def kind(self):
        if self.record is not None:
            return self.record.kind
        meta = self.rq_job.meta if self.rq_job is not None else {}
        return meta.get("kind") or self.func or "(unknown)"

    @property
    def owner(self):
        return self.record.owner if self.record is not None else None


@dataclass
class BusyJob(RqJob):
    """A job being run now, and the worker running it."""

    worker_name: str = ""
    worker: Worker | None = field(default=None, repr=False)  # None: no live worker has it
    started_at: datetime | None = None

    @property
    def running_seconds(self):
        if self.started_at is None:
            return None
        return max(0.0, (timezone.now() - self.started_at).total_seconds())

    @property
    def running_for(self):
        seconds = self.running_seconds
        return "" if seconds is None else span(seconds)


@dataclass
class ScheduledJob(RqJob):
    """A delayed job or a retry, waiting in RQ's scheduled registry until `run_at`."""

    run_at: datetime | None = None
    rq_error: str = ""  # the last line of RQ's latest failure, for jobs without a record

    @property
    def seconds_until(self):
        return (self.run_at - timezone.now()).total_seconds()

    @property
    def due_in(self):
        """ "in 4 s"; "due now" once its time has come and a scheduler has yet to move it."""
        seconds = self.seconds_until
        return f"in {span(seconds)}" if seconds >= 1 else "due now"

    @property
    def is_retry(self):
        """It failed before and waits for its next attempt."""
        if self.record is not None:
            return self.record.attempts > 0
        return bool(self.rq_error)

    @property
    def error(self):
        if self.record is not None:
            return self.record.error
        return self.rq_error

    @property
    def ref(self):
        return f"{self.queue}:{self.id}"


@dataclass
class CronEntry:
    """An rq-scheduler entry, the declared job it runs, and that job's latest record."""

    id: str
    func: str
    queue: str
    cron: str
    interval: int | None
    next_run: datetime | None
    declared: DeclaredJob | None = None  # None: not one of our declared jobs
    args: list = field(default_factory=list)  # what "run now" passes to the declared job
    last: JobRecord | None = None
    problem: str = ""

    @property
    def kind(self):
        return self.declared.name if self.declared is not None else self.func

    # A declared Job is callable, and templates call what they can: they read these.
    @property
    def runnable(self):
        """Whether "run now" can enqueue it: it runs a declared job."""
        return self.declared is not None

    @property
    def declared_path(self):
        return self.declared.module_path if self.declared is not None else ""

    @property
    def declared_queue(self):
        return self.declared.queue if self.declared is not None else ""

    @property
    def last_duration(self):
        last = self.last
        if last is None or not (last.started_at and last.finished_at):
            return None
        return max(0.0, (last.finished_at - last.started_at).total_seconds())

    @property
    def last_took(self):
        seconds = self.last_duration
        return "" if seconds is None else span(seconds)


def span(seconds):
    """A duration as these pages show it: 4 s, 3 min 20 s, 2 h 5 min, 3 d 4 h."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# Busy


def busy_jobs(*, limit=None):
    """(jobs running now, how many more than those listed), longest-running first.

    A job whose worker no longer beats is still listed, without a worker: the sweeper
    gives it back to its queue (jobs.sweeper).
    """
    limit = limit or BUSY_LIMIT
    connection = connections.get_connection("default")
    registered = Worker.all(connection=connection)
    alive = live_workers([worker.name for worker in registered], connection=connection)
    workers = {worker.name: worker for worker in registered if worker.name in alive}
    found, total, read = [], 0, 0
    for name in queue_names():
        queue = connections.get_queue(name)
        key = queue.started_job_registry.key
        with queue.connection.pipeline(transaction=False) as pipe:
            pipe.zrange(key, 0, limit - 1)
            pipe.zcard(key)
            entries, count = pipe.execute()
        total, read = total + count, read + len(entries)
        # Entries are "<job id>:<execution id>"; a job runs once at a time, so keep one.
        job_ids = list(dict.fromkeys(entry.decode().split(":", 1)[0] for entry in entries))
        found += [
            (name, job_id, data)
            for job_id, data in zip(job_ids, _hashes(queue, job_ids), strict=True)
        ]
    records = records_for_rq_ids([job_id for _, job_id, _ in found])
    busy = []
    for name, job_id, data in found:
        queue = connections.get_queue(name)
        if not data:
            continue  # it ended between the two reads, and RQ deleted it
        record = records.get(job_id)
        job, problem = _rq_job_restore(queue, job_id, data)
        worker_name = (job.worker_name if job else "") or (record.worker if record else "")
        started_at = (record.started_at if record else None) or (job.started_at if job else None)
        busy.append(
            BusyJob(
                queue=name,
                id=job_id,
                record=record,
                func=rq_job_func_name(job) if job else (record.func if record else ""),
                problem=problem,
                rq_job=job,
                worker_name=worker_name or "",
                worker=workers.get(worker_name),
                started_at=_aware(started_at),
            )
        )
    busy.sort(key=lambda job: job.started_at or timezone.now())
    return busy, total - read


# Scheduled


def scheduled_jobs(*, limit=None):
    """(the `limit` scheduled jobs due soonest across every queue, how many more)."""
    limit = limit or SCHEDULED_LIMIT
    heads, total = [], 0
    for name in queue_names():
        queue = connections.get_queue(name)
        key = queue.scheduled_job_registry.key
        with queue.connection.pipeline(transaction=False) as pipe:
            pipe.zrange(key, 0, limit - 1, withscores=True)
            pipe.zcard(key)
            entries, count = pipe.execute()
        total += count
        heads += [(score, name, job_id.decode()) for job_id, score in entries]
    heads = sorted(heads)[:limit]
    by_queue = {}
    for score, name, job_id in heads:
        by_queue.setdefault(name, []).append((job_id, score))
    jobs = []
    for name, entries in by_queue.items():
        jobs += scheduled_jobs_read(name, entries)
    jobs.sort(key=lambda job: (job.run_at, job.id))
    return jobs, total - len(jobs)


def scheduled_get(queue_name, job_id):
    """One job of the scheduled registry of `queue_name`, or None if it is not there."""
    if queue_name not in queue_names() or not JOB_ID.match(job_id):
        return None
    queue = connections.get_queue(queue_name)
    score = queue.connection.zscore(queue.scheduled_job_registry.key, job_id)
    if score is None:
        return None
    return scheduled_jobs_read(queue_name, [(job_id, score)])[0]


def scheduled_jobs_read(queue_name, entries):
    """ScheduledJobs for (job id, score) `entries` of one queue: one pipeline, one query."""
    queue = connections.get_queue(queue_name)
    job_ids = [job_id for job_id, _ in entries]
    with queue.connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hgetall(Job.key_for(job_id))
            pipe.xrevrange(Result.get_key(job_id), "+", "-", count=1)
        replies = pipe.execute(raise_on_error=False)
    records = records_for_rq_ids(job_ids)
    jobs = []
    for index, (job_id, score) in enumerate(entries):
        data, results = replies[2 * index : 2 * index + 2]
        job, problem = _rq_job_restore(queue, job_id, data)
        record = records.get(job_id)
        scheduled = ScheduledJob(
            queue=queue_name,
            id=job_id,
            record=record,
            func=rq_job_func_name(job) if job else (record.func if record else ""),
            problem=problem,
            rq_job=job,
            run_at=datetime.fromtimestamp(float(score), tz=UTC),
        )
        result = _latest_result(job, job_id, results) if job is not None else None
        if result is not None and result.exc_string:
            scheduled.rq_error = _last_line(result.exc_string)
        jobs.append(scheduled)
    return jobs


# Cron


def cron_list(*, limit=None):
    """rq-scheduler's entries, soonest first, each with its declared job's last record.

    Two round trips to Redis (the schedule, then every entry's hash in one pipeline)
    and one query for the last records, however many entries there are.
    """
    limit = limit or CRON_LIMIT
    scheduler = django_rq.get_scheduler("default")
    entries = scheduler.connection.zrange(
        scheduler.scheduled_jobs_key, 0, limit - 1, withscores=True
    )
    cron = _cron_entries_read(scheduler, [(job_id.decode(), score) for job_id, score in entries])
    last = last_records([entry.kind for entry in cron if entry.declared is not None])
    for entry in cron:
        if entry.declared is not None:
            entry.last = last.get(entry.kind)
    return cron


def cron_get(entry_id):
    """One rq-scheduler entry, or None when there is no entry with that id."""
    if not JOB_ID.match(entry_id):
        return None
    scheduler = django_rq.get_scheduler("default")
    score = scheduler.connection.zscore(scheduler.scheduled_jobs_key, entry_id)
    if score is None:
        return None
    return _cron_entries_read(scheduler, [(entry_id, score)])[0]


def last_records(kinds):
    """{kind: its most recent JobRecord} in one query: one indexed lookup per kind."""
    kinds = sorted(set(kinds))
    if not kinds:
        return {}
    latest = Q()
    for kind in kinds:
        newest = JobRecord.objects.filter(kind=kind).order_by("-created_at").values("pk")[:1]
        latest |= Q(pk=Subquery(newest))
    return {record.kind: record for record in JobRecord.objects.filter(latest)}


def _cron_entries_read(scheduler, entries):
    queue = connections.get_queue("default")  # rq-scheduler's connection and job class
    with scheduler.connection.pipeline(transaction=False) as pipe:
        for job_id, _ in entries:
            pipe.hgetall(Job.key_for(job_id))
        replies = pipe.execute(raise_on_error=False)
    cron = []
    for (job_id, score), data in zip(entries, replies, strict=True):
        job, problem = _rq_job_restore(queue, job_id, data)
        meta = job.meta if job is not None else {}
        entry = CronEntry(
            id=job_id,
            func=rq_job_func_name(job) if job else "",
            queue=job.origin if job else "",
            cron=meta.get("cron_string", ""),
            interval=meta.get("interval"),
            next_run=datetime.fromtimestamp(float(score), tz=UTC),
            problem=problem,
        )
        if job is not None:
            entry.declared, entry.args = _declared(job)
        cron.append(entry)
    return cron


def _declared(job):
    """The declared job an entry runs, and the arguments to run it with, or (None, [])."""
    try:
        func, args, kwargs = job.func_name, list(job.args), job.kwargs
    except Exception:  # the serializer could not read them
        return None, []
    if func == FIRE and len(args) == 1 and not kwargs:
        return registry.get(args[0]), []
    if func in registry and not kwargs:
        return registry[func], args
    return None, []


def _hashes(queue, job_ids):
    if not job_ids:
        return []
    with queue.connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hgetall(Job.key_for(job_id))
        return pipe.execute(raise_on_error=False)


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _aware(value):
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value
