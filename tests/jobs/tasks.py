"""Jobs for the engine's tests, declared like the app's own; tests vary their options
per call with enqueue(job, *args, **options), which calls .using(**options)."""

from django.core.cache import cache

from jobs.base import job
from jobs.tracking import report_progress


class Flaky(Exception):
    pass


@job
def succeed(value):
    report_progress(50, "Halfway")
    return {"value": value}


@job
def report_then_read_row(percent, stage):
    """Report progress, then return what the job's own row says while it still runs."""
    from jobs.models import JobRecord
    from jobs.tracking import current_record

    report_progress(percent, stage)
    row = JobRecord.objects.get(pk=current_record().id)
    return {"status": row.status, "progress": row.progress, "stage": row.stage}


@job
def fail_times(key, times):
    """Fail the first `times` runs for `key`, then succeed."""
    runs = cache.get_or_set(key, 0)
    cache.set(key, runs + 1)
    if runs < times:
        raise Flaky(f"run {runs + 1} failed")
    return {"runs": runs + 1}


@job
def always_fail():
    raise Flaky("the downstream service is down")


@job
def record_order(label):
    """Append `label` to a Redis list, to see in which order a worker took jobs."""
    from django_rq import get_connection

    get_connection("default").rpush("test:order", label)


@job
def send_one_email(index):
    from jobs.mail import send_email

    send_email(subject=f"Message {index}", body="Hello", to=f"person{index}@example.com")
    return {"index": index}


@job
def sleep_then_succeed(seconds):
    import time

    time.sleep(seconds)
    return {"slept": seconds}


@job
def claim_then_sleep(key, seconds):
    """Count, in Redis, each time the side effect behind `key` really happens."""
    import time

    from django_rq import get_connection

    from jobs.idempotency import once

    def act():
        get_connection("default").incr(f"test:claims:{key}")
        time.sleep(seconds)

    return {"acted": once(f"claim:{key}", act)}


# What Redis held while the last snapshot_redis job ran (tests/jobs/test_bookkeeping.py).
SNAPSHOTS = []


@job
def snapshot_redis():
    from django_rq import get_connection
    from rq import get_current_job

    from tests.jobs.redis_snapshot import snapshot

    current = get_current_job()
    SNAPSHOTS.append(snapshot(get_connection("default"), current.id, current.worker_name))


@job
def enqueue_own_dependent(label):
    """While running, enqueue a job that waits for this one, as a late caller might."""
    import django_rq
    from rq import get_current_job

    django_rq.get_queue("default").enqueue(
        record_order.module_path, label, depends_on=get_current_job().id
    )


@job
def wait_for_file(path, seconds=30):
    """Report a stage, then wait until the file `path` exists (at most `seconds`), so
    that a test can look at the job while a worker runs it."""
    import os
    import time

    report_progress(40, "Waiting for the go-ahead")
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"went_ahead": os.path.exists(path)}
