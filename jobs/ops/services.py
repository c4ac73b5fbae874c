"""Writes for staff: requeue or delete jobs in RQ's failed sets.

A job with a row is changed through the engine (jobs.services, jobs.states), so the row
and Redis agree; RQ is used directly only for jobs enqueued outside the engine (from a
shell, or by a library).

One job is requeued or deleted within the request. Many (a selection, or the whole
failed set) are a background job (jobs.ops.tasks) that works through them in batches
and reports its progress, because a large failed set takes longer than a request may.
"""

import logging

from rq.exceptions import InvalidJobOperation
from rq.job import Job

from jobs import connections, states
from jobs.models import JobRecord
from jobs.ops import tasks  # tasks imports this module too; each uses the other at call time
from jobs.ops.selectors import failed_all_refs, failed_get, failed_jobs_read, rq_job_func_name
from jobs.services import job_cancel, job_forget, job_requeue
from jobs.tracking import report_progress

logger = logging.getLogger("jobs.ops")

Status = JobRecord.Status
UNFINISHED = (*JobRecord.WAITING, Status.STARTED)
BATCH_SIZE = 500  # failed jobs read from Redis in one pipeline, and from the database at once
ERRORS_KEPT = 20  # a bulk job's result lists this many errors; the rest are only counted


class FailedJobError(Exception):
    """An action on a failed job that cannot be done; the message tells staff why."""


def failed_job_requeue(*, queue_name, job_id):
    """Run a failed job again. A job with a record is pushed again from its row."""
    _requeue(_still_failed(queue_name, job_id))


def failed_job_delete(*, queue_name, job_id):
    """Remove a failed job from Redis. Its record, if any, stays as history."""
    _delete(_still_failed(queue_name, job_id))


def failed_jobs_requeue_start(*, refs=None, requested_by):
    """Staff's "requeue selected" or (`refs` None) "requeue all", as a background job.

    Returns its row: `requested_by` owns it and watches its progress.
    """
    return tasks.requeue_failed_jobs.enqueue(*_job_args(refs), owner=requested_by)


def failed_jobs_delete_start(*, refs=None, requested_by):
    """Staff's "delete selected" or (`refs` None) "delete all", as a background job."""
    return tasks.delete_failed_jobs.enqueue(*_job_args(refs), owner=requested_by)


def failed_jobs_requeue(*, refs=None, batch_size=None):
    """Requeue each (queue, job id), or every failed job when `refs` is None, reading
    them `batch_size` (default BATCH_SIZE) at a time.

    Returns {"total", "done", "errors"}: the errors of the first ERRORS_KEPT jobs that
    could not be requeued.
    """
    return _in_batches(_requeue, refs, "Requeued", batch_size)


def failed_jobs_delete(*, refs=None, batch_size=None):
    """Delete each (queue, job id), or every failed job when `refs` is None."""
    return _in_batches(_delete, refs, "Deleted", batch_size)


def _job_args(refs):
    return [] if refs is None else [[f"{queue_name}:{job_id}" for queue_name, job_id in refs]]


def _in_batches(action, refs, done_word, batch_size):
    # The ids are taken once, at the start: a job that fails again while this runs is
    # not acted on twice, and one that fails for the first time waits for the next run.
    refs = failed_all_refs() if refs is None else list(refs)
    batch_size = batch_size or BATCH_SIZE
    total, done, errors = len(refs), 0, []
    report_progress(0, f"{done_word} 0 of {total}")
    for start in range(0, total, batch_size):
        for job_id, failed in _read(refs[start : start + batch_size]):
            try:
                if failed is None:
                    raise FailedJobError("It is no longer in the failed set.")
                action(failed)
            except FailedJobError as exc:
                errors.append(f"{job_id}: {exc}")
            else:
                done += 1
        seen = min(start + batch_size, total)
        report_progress(100 * seen // total, f"{done_word} {done} of {total}")
    logger.info("failed jobs %s done=%s errors=%s", done_word.lower(), done, len(errors))
    return {"total": total, "done": done, "errors": errors[:ERRORS_KEPT]}


def _read(refs):
    """(job id, FailedJob or None) for a batch of refs, a pipeline per queue."""
    by_queue = {}
    for queue_name, job_id in refs:
        by_queue.setdefault(queue_name, []).append(job_id)
    for queue_name, job_ids in by_queue.items():
        yield from zip(job_ids, failed_jobs_read(queue_name, job_ids), strict=True)


def _still_failed(queue_name, job_id):
    failed = failed_get(queue_name, job_id)
    if failed is None:
        raise FailedJobError("It is no longer in the failed set.")
    return failed


def _requeue(failed):
    queue = connections.get_queue(failed.queue)
    if failed.record is not None:
        _requeue_record(queue, failed)
        return
    if failed.rq_job is None:
        raise FailedJobError(f"{failed.problem} It can only be deleted.")
    try:
        queue.failed_job_registry.requeue(failed.rq_job)
    except InvalidJobOperation:  # someone else requeued or deleted it a moment ago
        raise FailedJobError("It is no longer in the failed set.") from None
    logger.info("job requeued id=%s kind=%s source=rq", failed.id, rq_job_func_name(failed.rq_job))


def _delete(failed):
    queue = connections.get_queue(failed.queue)
    record = failed.record
    if record is not None and record.status in UNFINISHED:
        # Without its RQ copy the job will never run: the row must not say it will.
        states.gave_up(record, error=_gave_up_reason(failed))
    if failed.rq_job is not None:
        try:
            failed.rq_job.delete()
        except Exception:  # a half-readable job is removed key by key below
            logger.exception("job %s: RQ could not delete it cleanly", failed.id)
    queue.failed_job_registry.remove(failed.id)
    queue.connection.delete(Job.key_for(failed.id))
    logger.info("job deleted id=%s queue=%s", failed.id, failed.queue)


def _requeue_record(queue, failed):
    record = failed.record
    if record.status == Status.FINISHED:
        raise FailedJobError("Its record says it finished: this copy is stale, delete it.")
    if record.status in UNFINISHED:
        # RQ gave up on it without the row hearing: the task never reached @tracked (its
        # function does not import) or its work horse was killed. Close the row first,
        # so that job_requeue, which only revives failed or canceled rows, can run it.
        states.gave_up(record, error=_gave_up_reason(failed))
        record.refresh_from_db()
    if not job_requeue(record=record):
        raise FailedJobError(f"Its record is {record.get_status_display().lower()}.")


def _gave_up_reason(failed):
    return failed.rq_error or "The worker gave up on this job."


# Actions on job records, from a job's timeline or over the search's filter.

BULK_VERBS = ("requeue", "cancel", "delete")
BULK_STATUSES = {
    "requeue": [Status.FAILED, Status.CANCELED],
    "cancel": list(JobRecord.WAITING),
    "delete": [*JobRecord.WAITING, *JobRecord.TERMINAL],  # never a running job
}


def job_act(record, action):
    """Requeue or cancel one job; False when its state does not allow it."""
    if action == "requeue":
        return job_requeue(record=record)
    if action == "cancel":
        return job_cancel(record=record, reason="Canceled by staff")
    raise ValueError(action)


def bulk_matching(form, action):
    """The records a bulk `action` over a valid JobSearchForm would act on now."""
    from jobs.ops.selectors import job_search

    return job_search(form).filter(status__in=BULK_STATUSES[action])


def jobs_bulk_start(*, action, filters, requested_by):
    """A bulk action over the search's `filters`, as a background job owned by its requester."""
    return tasks.jobs_bulk_action.enqueue(action, filters, owner=requested_by)


def jobs_bulk(*, action, filters, batch_size=None):
    """Do `action` to every record matching `filters` now, a batch at a time, reporting
    progress; returns {"total", "done", "errors"} as the failed-set actions do."""
    from jobs.ops.forms import JobSearchForm

    form = JobSearchForm(filters)
    if not form.is_valid():
        raise ValueError(f"invalid filter {filters!r}: {form.errors.as_json()}")
    pks = list(bulk_matching(form, action).values_list("pk", flat=True))
    batch_size = batch_size or BATCH_SIZE
    total, done, errors = len(pks), 0, []
    word = {"requeue": "Requeued", "cancel": "Canceled", "delete": "Deleted"}[action]
    report_progress(0, f"{word} 0 of {total}")
    for start in range(0, total, batch_size):
        batch = JobRecord.objects.in_bulk(pks[start : start + batch_size])
        for pk in pks[start : start + batch_size]:
            record = batch.get(pk)
            if record is not None and _bulk_one(action, record):
                done += 1
            else:
                errors.append(f"{pk}: it changed state before the action reached it.")
        seen = min(start + batch_size, total)
        report_progress(100 * seen // total, f"{word} {done} of {total}")
    logger.info("jobs bulk %s done=%s errors=%s", action, done, len(errors))
    return {"total": total, "done": done, "errors": errors[:ERRORS_KEPT]}


def _bulk_one(action, record):
    if action != "delete":
        return job_act(record, action)
    if record.status in JobRecord.WAITING and not job_cancel(record=record):
        return False  # it started meanwhile
    job_forget(record=record)
    return JobRecord.objects.filter(pk=record.pk).exclude(status=Status.STARTED).delete()[0] > 0
