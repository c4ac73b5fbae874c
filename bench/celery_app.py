"""The Celery app the throughput benchmark (bench/throughput.py) compares against.

Redis as the broker and as the result backend, on the private redis-server the benchmark
starts: BENCH_CELERY_BROKER and BENCH_CELERY_BACKEND name them. The backend gets a
database of its own, so that its size (DBSIZE) is the number of results stored.
Otherwise Celery's defaults: results are stored (no ignore_result), JSON, prefetch 4.

    celery -A bench.celery_app worker -P prefork -c 2
"""

import os

from celery import Celery

app = Celery(
    "bench",
    # No default: without them this would reach for whatever Redis listens on 6379.
    broker=os.environ["BENCH_CELERY_BROKER"],
    backend=os.environ["BENCH_CELERY_BACKEND"],
)
app.conf.broker_connection_retry_on_startup = True


@app.task
def noop(i):
    return None
