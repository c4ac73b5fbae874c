"""The jobs the throughput benchmark (bench/throughput.py) runs.

`noop` is declared with the app's own API, exactly as an app job is: `.enqueue()` writes
its JobRecord row and pushes it to RQ, and the worker runs it under that row
(jobs.tracking). Importing this module needs Django set up, as in every app process
(manage.py rqworker, the web server). Plain RQ's untracked job is
bench.throughput.plain_noop, and Celery's is bench.celery_app.noop: neither needs Django.
"""

from jobs.base import job


@job(queue="default")
def noop(i):
    return None
