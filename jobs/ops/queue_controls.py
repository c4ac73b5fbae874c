"""Pausing and resuming a queue from the console, and what its pages read: each queue's
state, and the live workers with what they do.

A pause is one Redis set (jobs.pausing); these functions add the audit trail and the
numbers the confirmation page and the overview show. The reads are a fixed number of
round trips however many workers run: one for the registered workers' names, one for
their heartbeats, one pipeline for their hashes (RQ's Worker.all() makes one per worker).
"""

import uuid
from datetime import UTC

from django.db import transaction
from rq.utils import as_text, utcparse
from rq.worker import Worker
from rq.worker_registration import REDIS_WORKER_KEYS

from jobs import connections, pausing
from jobs.conf import jobs_settings
from jobs.ops.audit import record_action
from jobs.worker import IDLE, live_workers


def queue_pause(*, name, actor):
    """Pause queue `name`, recorded as `actor`'s. Returns its state as it was before."""
    return _switch(name=name, actor=actor, verb="pause", switch=pausing.pause)


def queue_resume(*, name, actor):
    """Resume queue `name`, recorded as `actor`'s. Returns its state as it was before."""
    return _switch(name=name, actor=actor, verb="resume", switch=pausing.resume)


def _switch(*, name, actor, verb, switch):
    state = queue_state(name)
    # The row first: if Redis then fails, the transaction takes the row back with it.
    with transaction.atomic():
        record_action(
            actor=actor, verb=verb, target=f"queue {name}", details={"waiting": state["waiting"]}
        )
        switch(name)
    return state


def queue_state(name):
    """One queue: whether it is paused, how many jobs wait in it, the live workers on it."""
    return next(state for state in queue_states() if state["name"] == name)


def queue_states():
    """Every queue, in the workers' order: name, paused, waiting, workers (live names)."""
    connection = connections.get_connection("default")
    names = list(jobs_settings.RQ_QUEUE_NAMES)
    with connection.pipeline(transaction=False) as pipeline:
        pipeline.smembers(pausing.KEY)
        for name in names:
            pipeline.llen(connections.get_queue(name).key)
        paused, *waiting = pipeline.execute()
    paused = {as_text(name) for name in paused}
    workers = worker_rows()
    return [
        {
            "name": name,
            "paused": name in paused,
            "waiting": count,
            "workers": [worker["name"] for worker in workers if name in worker["queues"]],
        }
        for name, count in zip(names, waiting, strict=True)
    ]


def queue_controls_context():
    """What templates/ops/_queue_controls.html needs."""
    return {"queue_controls": queue_states()}


def worker_rows():
    """The live workers, by name: host, pid, queues, state, the job each runs, its counts,
    birth and last heartbeat, and which of its queues are paused.

    A worker counts while its own heartbeat key (jobs.worker) is fresh: RQ keeps a dead
    worker's entry for minutes.
    """
    connection = connections.get_connection("default")
    prefix = Worker.redis_worker_namespace_prefix
    names = sorted(
        as_text(key).removeprefix(prefix) for key in connection.smembers(REDIS_WORKER_KEYS)
    )
    alive = live_workers(names, connection=connection)
    names = [name for name in names if name in alive]
    with connection.pipeline(transaction=False) as pipeline:
        for name in names:
            pipeline.hgetall(prefix + name)
        pipeline.smembers(pausing.KEY)
        *hashes, paused = pipeline.execute()
    paused = {as_text(name) for name in paused}
    rows = []
    for name, raw in zip(names, hashes, strict=True):
        if not raw:  # its RQ entry expired while its heartbeat had not yet
            continue
        data = {as_text(key): as_text(value) for key, value in raw.items()}
        queues = [queue for queue in data.get("queues", "").split(",") if queue]
        job_id = None if alive[name] == IDLE else alive[name]
        rows.append(
            {
                "name": name,
                "hostname": data.get("hostname") or "",
                "pid": int(data["pid"]) if data.get("pid") else None,
                "queues": queues,
                "paused_queues": [queue for queue in queues if queue in paused],
                "state": data.get("state") or "?",
                "current_job_id": job_id,
                "current_job_is_tracked": job_id is not None and _is_uuid(job_id),
                "successful": int(data.get("successful_job_count") or 0),
                "failed": int(data.get("failed_job_count") or 0),
                "birth": _when(data.get("birth")),
                "last_heartbeat": _when(data.get("last_heartbeat")),
            }
        )
    return rows


def _when(value):
    return utcparse(value).replace(tzinfo=UTC) if value else None


def _is_uuid(value):
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
