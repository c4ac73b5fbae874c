"""Writes for the job engine: record a job, push it to RQ, requeue or cancel it.

The one rule: the row is written first, in the caller's transaction, and RQ hears about
the job only after that transaction commits. A worker can therefore never pick up a job
whose row (or whose user, or photo) does not exist yet, and a rolled-back request
leaves nothing behind in Redis.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Retry
from rq.exceptions import DuplicateJobError
from rq.job import JobStatus

from jobs import connections, states
from jobs.conf import jobs_settings
from jobs.models import IdempotencyKey, JobRecord

logger = logging.getLogger(__name__)

Status = JobRecord.Status


def backoff_intervals(retries: int, *, base: int | None = None) -> list[int]:
    """Exponential backoff: base, 2*base, 4*base, ... seconds, one per retry."""
    base = jobs_settings.JOB_RETRY_BASE_SECONDS if base is None else base
    return [base * 2**attempt for attempt in range(retries)]


def _options(retries, timeout, result_ttl, failure_ttl, on_failure=None):
    """The options a row keeps, leaving out the ones left at their defaults (RQ's).

    A result_ttl of 0 is kept: RQ then deletes the job from Redis as soon as it
    finished, and the row alone holds its result.
    """
    options = {
        "retry_intervals": backoff_intervals(retries),
        "timeout": timeout,
        "result_ttl": result_ttl,
        "failure_ttl": failure_ttl,
        "on_failure": on_failure,
    }
    kept = {key: value for key, value in options.items() if value}
    if result_ttl == 0:
        kept["result_ttl"] = 0
    return kept


def job_enqueue(
    *,
    func: str,
    kind: str,
    args: Sequence[Any] = (),
    owner: Any = None,
    queue: str = "default",
    retries: int = 0,
    timeout: int | None = None,
    result_ttl: int | None = None,
    failure_ttl: int | None = None,
    depends_on: JobRecord | None = None,
    delay: timedelta | None = None,
    job_id: uuid.UUID | None = None,
    on_failure: str | None = None,
) -> JobRecord:
    """Record a job now and push it to RQ when the current transaction commits.

    `func` is a dotted path, `args` must be JSON (ids, never model instances).
    `depends_on` is another JobRecord: RQ holds this job as deferred until that one
    finishes. `delay` is a timedelta; the job waits in RQ's scheduled registry.
    `job_id` makes the enqueue itself idempotent: if a job with that id was already
    recorded, it is returned and nothing new is queued. `on_failure` is the dotted path
    of a function called with the row, once, when the job has failed for good.
    """
    options = _options(retries, timeout, result_ttl, failure_ttl, on_failure)
    if job_id is not None:
        existing = JobRecord.objects.filter(pk=job_id).first()
        if existing:
            return existing
    record = JobRecord(
        id=job_id or uuid.uuid4(),
        kind=kind,
        func=func,
        args=list(args),
        owner=owner,
        queue=queue,
        options=options,
        depends_on=depends_on,
        run_at=timezone.now() + delay if delay else None,
        max_attempts=retries + 1,
    )
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        # Another process recorded the same deterministic id a moment ago.
        return JobRecord.objects.get(pk=job_id)
    # robust=True: whatever goes wrong while pushing, the request that caused the job
    # has already committed and must still get its response.
    transaction.on_commit(lambda: job_push(record=record), robust=True)
    return record


def job_push(*, record: JobRecord, at_front: bool = False) -> bool:
    """Put a recorded job into Redis and move its row from pending to queued.

    Returns False, leaving the row pending, when Redis cannot be reached; the sweeper
    (jobs.sweeper) pushes pending rows again later. Pushing a job twice is harmless:
    a second push finds the first in Redis and adds nothing.
    """
    queue = connections.get_queue(record.queue)
    waits = _waits_for_dependency(record)
    job = queue.create_job(
        record.func,
        depends_on=str(record.depends_on_id) if waits else None,
        **_rq_options(record),
    )
    # RQ refuses a duplicate id atomically, except for jobs with dependencies.
    unique = not waits
    try:
        if not unique and queue.connection.exists(job.key):
            raise DuplicateJobError(job.id)
        if record.run_at and record.run_at > timezone.now():
            job = queue.schedule_job(job, record.run_at, unique=unique)
        else:
            job = queue.enqueue_job(job, unique=unique, at_front=at_front)
    except DuplicateJobError:
        logger.info("job %s was already in Redis", record.id)
        job = queue.fetch_job(str(record.id))
    except RedisError as exc:
        logger.warning("job %s stays pending: Redis is unreachable (%s)", record.id, exc)
        return False

    status = {
        JobStatus.SCHEDULED: Status.SCHEDULED,
        JobStatus.DEFERRED: Status.DEFERRED,
    }.get(job.get_status(refresh=False) if job else None, Status.QUEUED)
    states.pushed(record, status=status)
    return True


def job_repush(*, record: JobRecord, at_front: bool = False) -> bool:
    """Push a pending row again after dropping whatever copy Redis still has of it.

    For a job whose copy went stale: its worker died, or Redis lost part of it. The
    row is the source of truth, so the new copy is built from the row alone. `at_front`
    puts it at the head of its queue: a job its worker dropped has waited its turn once.
    """
    queue = connections.get_queue(record.queue)
    try:
        _forget_rq_copy(queue, str(record.id))
    except RedisError as exc:
        logger.warning("job %s stays pending: Redis is unreachable (%s)", record.id, exc)
        return False
    return job_push(record=record, at_front=at_front)


def job_forget(*, record: JobRecord) -> None:
    """Remove every copy Redis holds of a recorded job that is not running; the row stays."""
    _forget_rq_copy(connections.get_queue(record.queue), str(record.id))


def _forget_rq_copy(queue, job_id: str) -> None:
    """Remove every trace of `job_id` from `queue` and its registries, but not the list
    of jobs waiting for it: those are released when the new copy finishes."""
    job_key = queue.job_class.key_for(job_id)
    started = queue.started_job_registry
    executions = [
        member
        for member in queue.connection.zrange(started.key, 0, -1)
        if member.decode().split(":", 1)[0] == job_id
    ]
    with queue.connection.pipeline() as pipe:
        pipe.lrem(queue.key, 0, job_id)
        for registry in (
            queue.scheduled_job_registry,
            queue.deferred_job_registry,
            queue.failed_job_registry,
            queue.finished_job_registry,
            queue.canceled_job_registry,
        ):
            pipe.zrem(registry.key, job_id)
        if executions:
            pipe.zrem(started.key, *executions)
        pipe.delete(job_key, f"rq:results:{job_id}")
        pipe.execute()


def _rq_options(record):
    """What RQ needs to run a recorded job: everything comes from the row.

    RQ gets only the retries the row has left, so that a job pushed again after a
    crash does not start its count afresh.
    """
    options = record.options
    intervals = options.get("retry_intervals", [])
    retries_left = max(0, min(len(intervals), record.max_attempts - record.attempts - 1))
    intervals = intervals[len(intervals) - retries_left :]
    return {
        "args": record.args,
        "job_id": str(record.id),
        "description": f"{record.kind} {record.args}",
        "timeout": options.get("timeout"),
        "result_ttl": options.get("result_ttl"),
        "failure_ttl": options.get("failure_ttl"),
        "retry": Retry(max=retries_left, interval=intervals) if retries_left else None,
        "meta": {"kind": record.kind},
    }


def job_enqueue_many(
    *,
    func: str,
    kind: str,
    jobs: Sequence[tuple[uuid.UUID, Sequence[Any], int | None]],
    queue: str = "default",
    retries: int = 0,
    timeout: int | None = None,
    result_ttl: int | None = None,
    failure_ttl: int | None = None,
    on_failure: str | None = None,
) -> list[uuid.UUID]:
    """Record many jobs of one kind and push them to RQ in one pipeline on commit.

    `jobs` is a list of (job_id, args, owner_id). Ids should be deterministic: a job
    whose id is already recorded is left alone, so running a fan-out twice, or again
    after a crash halfway, records and pushes each job once.
    """
    options = _options(retries, timeout, result_ttl, failure_ttl, on_failure)
    records = [
        JobRecord(
            id=job_id,
            kind=kind,
            func=func,
            args=list(args),
            owner_id=owner_id,
            queue=queue,
            options=options,
            max_attempts=retries + 1,
        )
        for job_id, args, owner_id in jobs
    ]
    JobRecord.objects.bulk_create(records, ignore_conflicts=True)
    ids = [record.id for record in records]
    transaction.on_commit(lambda: job_push_many(ids=ids), robust=True)
    return ids


def job_push_many(*, ids: Sequence[uuid.UUID]) -> int:
    """Push the still-pending rows among `ids` with two Redis round trips per queue.

    Ids already in Redis are left out, so a second push of the same rows (the sweeper's,
    or a fan-out run again) never queues a job twice.
    """
    pending = list(JobRecord.objects.filter(pk__in=ids, status=Status.PENDING))
    by_queue = {}
    for record in pending:
        by_queue.setdefault(record.queue, []).append(record)
    pushed = 0
    for name, records in by_queue.items():
        queue = connections.get_queue(name)
        try:
            with queue.connection.pipeline() as pipe:
                for record in records:
                    pipe.exists(queue.job_class.key_for(str(record.id)))
                known = pipe.execute()
            new = [record for record, exists in zip(records, known, strict=True) if not exists]
            with queue.connection.pipeline() as pipe:
                queue.enqueue_many(
                    [queue.prepare_data(record.func, **_rq_options(record)) for record in new],
                    pipeline=pipe,
                )
                pipe.execute()
        except RedisError as exc:
            logger.warning("%s jobs stay pending: Redis is unreachable (%s)", len(records), exc)
            continue
        queued = states.pushed_many([record.pk for record in records])
        logger.info("jobs queued count=%s kind=%s queue=%s", queued, records[0].kind, name)
        pushed += queued
    return pushed


def _waits_for_dependency(record):
    if record.depends_on_id is None:
        return False
    parent_status = (
        JobRecord.objects.filter(pk=record.depends_on_id).values_list("status", flat=True).first()
    )
    return parent_status != Status.FINISHED


def job_requeue(*, record: JobRecord) -> bool:
    """Run a failed or canceled job again, from the row alone, with a fresh set of attempts."""
    if not states.requeued(record):
        return False
    record.refresh_from_db()
    job_repush(record=record)
    # Steps that were canceled because this one failed get their chance again; RQ
    # releases them when this job finishes.
    dependents = JobRecord.objects.filter(
        depends_on=record, status=Status.CANCELED, stage=states.DEPENDENCY_FAILED
    )
    for dependent in dependents:
        if states.requeued(dependent):
            dependent.refresh_from_db()
            job_repush(record=dependent)
    return True


def job_cancel(*, record: JobRecord, reason: str = "Canceled") -> bool:
    """Stop a job that has not started; a running job finishes what it is doing."""
    if not states.canceled(record, reason=reason):
        return False
    try:
        job = connections.get_queue(record.queue).fetch_job(str(record.id))
        if job is not None:
            job.cancel()
    except RedisError:
        logger.warning("job %s canceled in the database only: Redis is unreachable", record.id)
    return True


def job_records_prune(*, ended_before: datetime, batch_size: int = 1000) -> dict[str, int]:
    """Delete rows of jobs that ended before `ended_before`, and old idempotency keys.

    This is the database's counterpart of RQ's result_ttl and failure_ttl. A job still
    waiting or running is never pruned, nor a finished one that a waiting job depends on.

    Rows go `batch_size` at a time, each batch in its own short transaction, and are
    never loaded: Django's delete() reads every row it deletes into memory first, in one
    transaction as long as the whole prune. Deleting without it, the prune does itself
    what on_delete would: it clears every SET_NULL foreign key to the rows, whichever
    app declares it (uploads' Photo points at its jobs), so the engine names no app, and
    deletes the rows of CASCADE keys (a job's attempts and events) the same way, which
    is right for rows that nothing points at in turn.
    """
    references = [
        relation.field
        for relation in JobRecord._meta.get_fields(include_hidden=True)
        if relation.auto_created and not relation.concrete and not relation.many_to_many
    ]
    handled = (models.SET_NULL, models.CASCADE)
    if unhandled := [f for f in references if f.remote_field.on_delete not in handled]:
        raise NotImplementedError(f"job_records_prune handles SET_NULL and CASCADE: {unhandled}")
    ended = JobRecord.objects.filter(status__in=JobRecord.TERMINAL, finished_at__lt=ended_before)
    ended = ended.exclude(dependents__status__in=[*JobRecord.WAITING, Status.STARTED])
    deleted = 0
    while batch := list(ended.values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            for field in references:
                pointing = field.model._base_manager.filter(**{f"{field.name}__in": batch})
                if field.remote_field.on_delete is models.CASCADE:
                    pointing._raw_delete(pointing.db)
                else:
                    pointing.update(**{field.name: None})
            # One DELETE ... WHERE id IN (batch): the statement delete() itself sends when
            # nothing points at the rows, without reading them first.
            deleted += JobRecord.objects.filter(pk__in=batch)._raw_delete(JobRecord.objects.db)
    # No foreign key points at an idempotency key, so this delete() loads nothing.
    keys, _ = IdempotencyKey.objects.filter(done_at__lt=ended_before).delete()
    return {"job_records": deleted, "idempotency_keys": keys}
