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
