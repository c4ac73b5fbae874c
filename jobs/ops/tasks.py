"""Bulk actions on RQ's failed sets, run by a worker rather than within a request.

Flow: staff confirm "requeue all" (or delete, or a selection) -> jobs.ops.views posts
-> jobs.ops.services.failed_jobs_requeue_start records the job, owned by them, and RQ
gets it on commit -> a worker runs requeue_failed_jobs, which works through the failed
set in batches and reports its progress -> /ops/bulk/<uuid>/ shows how far it got, then
how many jobs it requeued and why the others could not be.
"""

from datetime import timedelta

from jobs.base import job
from jobs.ops import services
from jobs.ops.selectors import failed_refs

# Generous: a batch of 500 takes seconds, and RQ kills a job that runs past its timeout.
# No retries: a second run would find the first one's work done and report it as errors.
BULK_TIMEOUT = timedelta(hours=2)


@job(
    queue="default",
    timeout=BULK_TIMEOUT,
    label="Requeue failed jobs",
    about="Requeues the failed jobs a staff member chose, in one background run.",
)
def requeue_failed_jobs(refs=None):
    """`refs`: "queue:job id" strings; None means every failed job."""
    return services.failed_jobs_requeue(refs=None if refs is None else failed_refs(refs))


@job(
    queue="default",
    timeout=BULK_TIMEOUT,
    label="Delete failed jobs",
    about="Deletes the failed jobs a staff member chose, in one background run.",
)
def delete_failed_jobs(refs=None):
    """`refs`: "queue:job id" strings; None means every failed job."""
    return services.failed_jobs_delete(refs=None if refs is None else failed_refs(refs))


@job(
    queue="default",
    timeout=BULK_TIMEOUT,
    label="Bulk action on jobs",
    about="Requeues, cancels or deletes every job that a staff member's search matched.",
)
def jobs_bulk_action(action, filters):
    """Requeue, cancel or delete the records that the search's `filters` match when it runs."""
    return services.jobs_bulk(action=action, filters=filters)
