"""Demo controls: make the app misbehave on purpose, so a learner can watch every state.

They exist only where `DEMO_CONTROLS` is on (by default, in development). Each control is a
Redis key with a time to live, read by the code it disturbs, so it reaches every worker
process and ends by itself:

    jobs:demo:slow-seconds     every job pauses this many seconds before its work
    jobs:demo:failing:smtp     sending an email raises, for 30 s
    jobs:demo:failing:storage  publishing a photo raises, for 30 s

With `DEMO_CONTROLS` off the hooks return before touching Redis: production pays nothing.
"""

import os
import signal
import socket
import time

from django.conf import settings
from rq import Worker

from jobs.connections import get_connection

SLOW_KEY = "jobs:demo:slow-seconds"
FAILING_KEY = "jobs:demo:failing:{}"
SERVICES = ("smtp", "storage")
FAILURE_SECONDS = 30
SLOW_SECONDS_MAX = 30
SLOW_FOR_SECONDS = 600  # a forgotten slow-down ends by itself after ten minutes


class DemoOutage(ConnectionError):
    """What a disturbed service raises: a connection error, as a real outage would."""


def enabled() -> bool:
    return bool(settings.DEMO_CONTROLS)


def jobs_slow_down(*, seconds: int) -> None:
    """Every job, in every worker, pauses `seconds` before its work; 0 ends the slow-down."""
    if not 0 <= seconds <= SLOW_SECONDS_MAX:
        raise ValueError(f"seconds must be between 0 and {SLOW_SECONDS_MAX}")
    connection = get_connection()
    if seconds:
        connection.set(SLOW_KEY, seconds, ex=SLOW_FOR_SECONDS)
    else:
        connection.delete(SLOW_KEY)


def service_fail(*, service: str) -> None:
    """`service` ("smtp" or "storage") raises DemoOutage for the next FAILURE_SECONDS."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    get_connection().set(FAILING_KEY.format(service), 1, ex=FAILURE_SECONDS)


def worker_kill() -> Worker | None:
    """SIGKILL one live worker on this host, a busy one first, as an out-of-memory kill
    would; None when there is none. Its job is the sweeper's to recover."""
    host = socket.gethostname()
    workers = [w for w in Worker.all(connection=get_connection()) if w.hostname == host]
    workers.sort(key=lambda w: w.get_state() != "busy")
    for worker in workers:
        try:
            os.kill(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            continue  # already gone; its registry entry expires on its own
        return worker
    return None


def demo_state() -> dict:
    """What is disturbed now, and for how many more seconds."""
    connection = get_connection()
    pipe = connection.pipeline()
    pipe.get(SLOW_KEY)
    pipe.ttl(SLOW_KEY)
    for service in SERVICES:
        pipe.ttl(FAILING_KEY.format(service))
    slow, slow_ttl, *failing = pipe.execute()
    return {
        "slow_seconds": int(slow or 0),
        "slow_for": max(slow_ttl, 0),
        "failing": {service: max(ttl, 0) for service, ttl in zip(SERVICES, failing, strict=True)},
    }


# The hooks, called by the code each control disturbs.


def pause_if_slowed() -> None:
    if not enabled():
        return
    seconds = get_connection().get(SLOW_KEY)
    if seconds:
        time.sleep(int(seconds))


def raise_if_failing(service: str) -> None:
    if not enabled():
        return
    left = get_connection().ttl(FAILING_KEY.format(service))
    if left > 0:
        raise DemoOutage(f"{service} is failing on purpose (demo control), {left} s more")
