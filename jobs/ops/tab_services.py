"""Writes for the console's Scheduled and Cron tabs: "run now".

- A scheduled job (a delayed job, or a retry waiting out its backoff) is moved from its
  queue's ScheduledJobRegistry to the queue itself, as RQ's scheduler does when it is
  due, and its row says queued.
- A cron entry's declared job is enqueued through the engine (`.enqueue()`), like a
  run that rq-scheduler fires, so the run is tracked, retried and visible; the entry
  keeps its schedule.

Each is recorded in the audit trail in the same transaction (jobs.ops.audit).
"""

import logging

from django.db import transaction
from redis.exceptions import WatchError
from rq.job import Job

from jobs import connections, states
from jobs.models import JobRecord
from jobs.ops.audit import record_action
from jobs.ops.selectors import _rq_job_restore
from jobs.ops.tabs import scheduled_get

logger = logging.getLogger("jobs.ops")

Status = JobRecord.Status
MOVE_TRIES = 5  # attempts at moving a job whose hash keeps changing under us


class RunNowError(Exception):
    """A "run now" that cannot be done; the message tells staff why."""


def scheduled_job_run_now(*, queue_name, job_id, actor):
    """Move a scheduled job to the end of its queue now. Returns it, as it was listed.

    The row moves first and Redis second, in one transaction with the audit row: if
    the job is gone from the scheduled registry meanwhile (its time came, or someone
    else ran it), nothing is written.
    """
    scheduled = scheduled_get(queue_name, job_id)
    if scheduled is None:
        raise RunNowError("It is no longer scheduled.")
    if scheduled.rq_job is None:
        raise RunNowError(f"{scheduled.problem} It cannot be run.")
    with transaction.atomic():
        if scheduled.record is not None:
            states.ran_early(scheduled.record)
        _move_to_queue(connections.get_queue(queue_name), job_id)
        record_action(
            actor=actor,
            verb="run now",
            target=f"scheduled job {job_id}",
            job_ids=[job_id],
            details={"queue": queue_name, "was_due": scheduled.run_at.isoformat()},
        )
    logger.info("scheduled job run now id=%s queue=%s", job_id, queue_name)
    return scheduled


def cron_entry_run_now(*, entry, actor):
    """Enqueue the declared job behind the cron entry `entry` now. Returns its new row.

    RQ gets the job when the transaction commits, as with any `.enqueue()`.
    """
    with transaction.atomic():
        record = entry.declared.enqueue(*entry.args)
        record_action(
            actor=actor,
            verb="run now",
            target=f"cron entry {entry.id}",
            job_ids=[record.id],
            details={"kind": record.kind},
        )
    logger.info("cron entry run now entry=%s id=%s", entry.id, record.id)
    return record


def _move_to_queue(queue, job_id):
    """What RQ's scheduler does with a due job (rq.scheduler.enqueue_scheduled_jobs):
    out of the scheduled registry and onto the queue, in one MULTI.

    WATCH on the job's hash makes it all or nothing: if a scheduler releases the job,
    or a worker takes it, before the MULTI runs, it is read again. A scheduler that
    read the registry just before this and releases the job just after pushes its id a
    second time; the worker that takes that copy finds the row started or ended and
    skips it (jobs.tracking).
    """
    registry = queue.scheduled_job_registry
    for _ in range(MOVE_TRIES):
        with queue.connection.pipeline() as pipe:
            try:
                pipe.watch(Job.key_for(job_id))
                if pipe.zscore(registry.key, job_id) is None:
                    raise RunNowError("It is no longer scheduled.")
                job, problem = _rq_job_restore(queue, job_id, pipe.hgetall(Job.key_for(job_id)))
                if job is None:
                    raise RunNowError(f"{problem} It cannot be run.")
                pipe.multi()
                registry.remove(job, pipeline=pipe)
                queue.enqueue_job(job, pipeline=pipe, at_front=job.should_enqueue_at_front())
                pipe.execute()
                return
            except WatchError:
                continue
    raise RunNowError("It kept changing while it was moved; try again.")
