"""Task functions for the engine's tests, importable by dotted path like real ones."""

from django.core.cache import cache

from jobs.tracking import report_progress, tracked


class Flaky(Exception):
    pass


@tracked
def succeed(value):
    report_progress(50, "Halfway")
    return {"value": value}


@tracked
def fail_times(key, times):
    """Fail the first `times` runs for `key`, then succeed."""
    runs = cache.get_or_set(key, 0)
    cache.set(key, runs + 1)
    if runs < times:
        raise Flaky(f"run {runs + 1} failed")
    return {"runs": runs + 1}


@tracked
def always_fail():
    raise Flaky("the downstream service is down")


@tracked
def record_order(label):
    """Append `label` to a Redis list, to see in which order a worker took jobs."""
    from django_rq import get_connection

    get_connection("default").rpush("test:order", label)


@tracked
def send_one_email(index):
    from jobs.mail import send_email

    send_email(subject=f"Message {index}", body="Hello", to=f"person{index}@example.com")
    return {"index": index}


@tracked
def sleep_then_succeed(seconds):
    import time

    time.sleep(seconds)
    return {"slept": seconds}


@tracked
def claim_then_sleep(key, seconds):
    """Count, in Redis, each time the side effect behind `key` really happens."""
    import time

    from django_rq import get_connection

    from jobs.idempotency import once

    def act():
        get_connection("default").incr(f"test:claims:{key}")
        time.sleep(seconds)

    return {"acted": once(f"claim:{key}", act)}
