"""The worker side of a job record: @tracked runs a task function under its row.

Every status change goes through jobs.states, whose conditional UPDATEs make a second
delivery of the same job a no-op: it finds the row running or ended and skips. Task
functions report progress with report_progress(), may raise RunLater to wait without
failing, and Permanent to fail for good at once.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from rq import Retry, get_current_job

from jobs import states
from jobs.demo import controls as demo_controls
from jobs.models import JobRecord

logger = logging.getLogger("jobs")

RUN_LATER_LIMIT = 10_000  # RQ wants a cap on Retry results; a rate limit never reaches it
_running = threading.local()  # the record of the tracked job this thread runs


class RunLater(Exception):
    """Raised by a task that cannot act yet (a rate limit, a claim held elsewhere): run it
    again in `seconds`.

    This is not a failure: it uses none of the job's retries, and its row says why it
    waits. RQ reschedules a job that returns a Retry, so workers need --with-scheduler.
    """

    def __init__(self, seconds: float, reason: str):
        super().__init__(reason)
        self.seconds = max(1, math.ceil(seconds))
        self.reason = reason


class Permanent(Exception):
    """Raised by a task on a failure that no retry can fix (its input is unusable): the
    job fails for good now, whatever retries it had left.

    The row's error reads "Permanent: <message>", and the owner is shown the message,
    so write it for people; the cause stays in RQ's traceback (raise ... from exc).
    """


def tracked(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a task function under its job record, when there is one.

    Called outside a worker, or for an RQ job that has no row (enqueued from a shell),
    the function simply runs.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        rq_job = get_current_job()
        if rq_job is None or not _is_uuid(rq_job.id):
            return func(*args, **kwargs)  # not one of ours: job records have UUIDs
        record = states.started(rq_job.id, worker=rq_job.worker_name or "")
        if record is None:
            if states.JobRecord.objects.filter(pk=rq_job.id).exists():
                logger.info("job skipped id=%s reason=already-running-or-ended", rq_job.id)
                return None
            return func(*args, **kwargs)

        began = time.monotonic()
        _running.record = record
        try:
            demo_controls.pause_if_slowed()  # returns at once unless DEMO_CONTROLS is on
            result = func(*args, **kwargs)
        except RunLater as later:
            states.waiting(record, seconds=later.seconds, reason=later.reason)
            return Retry(max=RUN_LATER_LIMIT, interval=later.seconds)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            duration = time.monotonic() - began
            if isinstance(exc, Permanent):
                rq_job.retries_left = 0  # RQ's worker reads it next: no retry, failed for good
            details = traceback.format_exc()
            if rq_job.should_retry:
                delay = rq_job.get_retry_interval()
                states.retrying(
                    record, error=error, delay=delay, duration=duration, traceback=details
                )
            else:
                states.failed(record, error=error, duration=duration, traceback=details)
            raise
        finally:
            _running.record = None
        states.finished(record, result=result, duration=time.monotonic() - began)
        return result

    return wrapper


def current_record() -> JobRecord | None:
    """The JobRecord of the tracked job running in this thread, or None."""
    return getattr(_running, "record", None)


def report_progress(percent: int, stage: str = "") -> None:
    """Record how far the current job has got; a no-op outside a tracked job."""
    record = current_record()
    if record is not None:
        states.progressed(record, percent=percent, stage=stage)


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
