"""Writes for staff: requeue or delete jobs in RQ's failed sets.

A job with a row is changed through the engine (jobs.services, jobs.states), so the row
and Redis agree; RQ is used directly only for jobs enqueued outside the engine (from a
shell, or by a library).
"""

import logging

import django_rq
from rq.exceptions import InvalidJobOperation
from rq.job import Job

from jobs import states
from jobs.models import JobRecord
from jobs.ops.selectors import (
    failed_describe,
    failed_set_contains,
    records_for_rq_ids,
    rq_job_func_name,
    rq_job_load,
)
from jobs.services import job_requeue

logger = logging.getLogger("jobs.ops")

Status = JobRecord.Status
UNFINISHED = (*JobRecord.WAITING, Status.STARTED)


class FailedJobError(Exception):
    """An action on a failed job that cannot be done; the message tells staff why."""


def failed_job_requeue(*, queue_name, job_id):
    """Run a failed job again. A job with a record is pushed again from its row."""
    if not failed_set_contains(queue_name, job_id):
        raise FailedJobError("It is no longer in the failed set.")
    queue = django_rq.get_queue(queue_name)
    record = records_for_rq_ids([job_id]).get(job_id)
    if record is not None:
        _requeue_record(queue, record)
        return
    job, problem = rq_job_load(queue, job_id)
    if job is None:
        raise FailedJobError(f"{problem} It can only be deleted.")
    try:
        queue.failed_job_registry.requeue(job)
    except InvalidJobOperation:  # someone else requeued or deleted it a moment ago
        raise FailedJobError("It is no longer in the failed set.") from None
    logger.info("job requeued id=%s kind=%s source=rq", job_id, rq_job_func_name(job))


def failed_job_delete(*, queue_name, job_id):
    """Remove a failed job from Redis. Its record, if any, stays as history."""
    if not failed_set_contains(queue_name, job_id):
        raise FailedJobError("It is no longer in the failed set.")
    queue = django_rq.get_queue(queue_name)
    job, _ = rq_job_load(queue, job_id)
    record = records_for_rq_ids([job_id]).get(job_id)
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


def failed_jobs_requeue(*, refs):
    """Requeue each (queue, job id); returns how many went back and the errors of the rest."""
    return _each(failed_job_requeue, refs)


def failed_jobs_delete(*, refs):
    """Delete each (queue, job id); returns how many went and the errors of the rest."""
    return _each(failed_job_delete, refs)


def _requeue_record(queue, record):
    if record.status == Status.FINISHED:
        raise FailedJobError("Its record says it finished: this copy is stale, delete it.")
    if record.status in UNFINISHED:
        # RQ gave up on it without the row hearing: the task never reached @tracked (its
        # function does not import) or its work horse was killed. Close the row first,
        # so that job_requeue, which only revives failed or canceled rows, can run it.
        states.gave_up(record, error=_gave_up_reason(queue.name, str(record.id)))
        record.refresh_from_db()
    if not job_requeue(record=record):
        raise FailedJobError(f"Its record is {record.get_status_display().lower()}.")


def _gave_up_reason(queue_name, job_id):
    return failed_describe(queue_name, job_id, None).error or "The worker gave up on this job."


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
