"""How long the web request that enqueued a job took, noted on the job's row.

RequestTiming notes when a request starts; `.enqueue()` and `.enqueue_many()`
(jobs.base) add each job's id to the request's list, an append in memory; after the
response is built, one UPDATE writes the elapsed seconds on those rows. A request that
enqueued nothing costs nothing beyond a clock read, and the enqueue path gains no round
trip. Outside a request (a worker, a command, the scheduler) nothing is noted.

The job page shows the figure next to how long the job ran (jobs.selectors.job_story).
"""

import contextvars
import time
import uuid

_enqueued: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "jobs_request_enqueued", default=None
)


def note_enqueued(*ids: uuid.UUID) -> None:
    """Called by jobs.base after an enqueue: remember the ids if a request is running."""
    noted = _enqueued.get()
    if noted is not None:
        noted.extend(ids)


class RequestTiming:
    """Records, on every job a request enqueued, how long that request took."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        noted: list = []
        token = _enqueued.set(noted)
        try:
            response = self.get_response(request)
        finally:
            _enqueued.reset(token)
        if noted:
            from jobs.models import JobRecord

            elapsed = time.perf_counter() - started
            JobRecord.objects.filter(pk__in=noted).update(request_seconds=round(elapsed, 4))
        return response
