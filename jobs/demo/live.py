"""/demo/live/: the pattern as it happens, read from the app's real data.

One snapshot holds the queues (their length in Redis, and whether they are paused), the
live workers (those whose heartbeat key, jobs.worker, is fresh) with the job each runs,
and the jobs recorded or changed in the last few minutes. The page polls it once a
second, so its cost does not grow with the number of jobs or queues: two database
queries and two Redis round trips, whatever there is to show.

Where the demo controls are on (development) or for staff who may look at the operations
console (`jobs.view_ops`), other people's jobs are shown too, so that a learner sees the
queue as it really is, but anonymously: their kind, queue, status, times and worker; never
their id, owner or error. Anyone else sees their own jobs among the queues' real lengths.
"""

from datetime import timedelta

from django.conf import settings
from django.core.signing import Signer
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from rq import Queue, Worker
from rq.utils import as_text
from rq.worker import WorkerStatus

from jobs import connections, pausing
from jobs.demo import controls
from jobs.models import JobRecord
from jobs.selectors import job_label
from jobs.worker import IDLE, heartbeat_key

RECENT = timedelta(minutes=5)
RECENT_JOBS = 30
TIMES = ("created_at", "run_at", "enqueued_at", "started_at", "finished_at")
# A card's key lets the page find it again at the next poll and move it to its new lane.
# It is a signature of the job's id, so that the card of someone else's job names nothing
# and opens nothing.
_keys = Signer(salt="jobs.demo.live")


def live_snapshot(user) -> dict:
    """Queues, live workers and recent jobs, as the live view draws them; `user`'s own
    jobs carry their `id` and page `url`."""
    now = timezone.now()
    queues, workers = _redis_state()
    since = now - RECENT
    # status__in names every status so that the (status, updated_at) index serves the
    # range on updated_at.
    recent = JobRecord.objects.filter(status__in=JobRecord.Status.values, updated_at__gte=since)
    everyone = controls.enabled() or user.has_perm("jobs.view_ops")
    if not everyone:
        recent = recent.filter(owner=user)
    records = list(recent.order_by("-updated_at")[:RECENT_JOBS])
    counts = dict(recent.order_by().values_list("status").annotate(n=Count("pk")))
    jobs = [_job_card(record, user) for record in records]

    # The heartbeat names a worker's job up to JOBS_WORKER_TTL / 3 seconds late; the row
    # of a job that is running names its worker as soon as it starts.
    started_by = {r.worker: r.id for r in records if r.status == JobRecord.Status.STARTED}
    labels = {job["key"]: job["label"] for job in jobs}
    for worker in workers:
        job_id = worker.pop("job_id")
        if job_id is None and worker["busy"]:
            job_id = started_by.get(worker["name"])
        worker["job_key"] = _key(job_id) if job_id else None
        worker["job"] = labels.get(worker["job_key"], "A job") if job_id else None

    waiting = sum(queue["waiting"] for queue in queues)
    running = sum(worker["busy"] for worker in workers)
    return {
        "now": now.isoformat(),
        "everyone": everyone,
        "queues": queues,
        "workers": workers,
        "jobs": jobs,
        "counts": {
            "waiting": waiting,
            "running": running,
            "finished": counts.get(JobRecord.Status.FINISHED, 0),
            "failed": counts.get(JobRecord.Status.FAILED, 0),
        },
        "summary": (
            f"{waiting} waiting, {running} running, "
            f"{counts.get(JobRecord.Status.FINISHED, 0)} finished in the last 5 minutes"
        ),
    }


def _redis_state():
    """([queue], [live worker]) in two round trips. Every queue shares the default
    connection's Redis (config/settings.py), as RQ's worker registry does."""
    names = list(settings.RQ_QUEUES)
    connection = connections.get_connection("default")
    with connection.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(Queue.redis_queue_namespace_prefix + name)
        pipe.smembers(pausing.KEY)
        pipe.smembers(Worker.redis_workers_keys)
        *lengths, paused, worker_keys = pipe.execute()
    paused = {as_text(name) for name in paused}
    queues = [
        {"name": name, "waiting": length, "paused": name in paused}
        for name, length in zip(names, lengths, strict=True)
    ]

    worker_keys = sorted(as_text(key) for key in worker_keys)
    if not worker_keys:
        return queues, []
    prefix = Worker.redis_worker_namespace_prefix
    worker_names = [key.removeprefix(prefix) for key in worker_keys]
    with connection.pipeline(transaction=False) as pipe:
        for key in worker_keys:
            pipe.hmget(key, "queues", "state")
        pipe.mget([heartbeat_key(name) for name in worker_names])
        *fields, beats = pipe.execute()
    workers = []
    for name, (served, state), beat in zip(worker_names, fields, beats, strict=True):
        if beat is None:  # its heartbeat expired: dead, though RQ still lists it
            continue
        job_id = None if as_text(beat) == IDLE else as_text(beat)
        workers.append(
            {
                "name": name,
                "queues": as_text(served).split(",") if served else [],
                # RQ writes the state as the worker takes a job and as it ends it.
                "busy": job_id is not None or as_text(state or "") == WorkerStatus.BUSY,
                "job_id": job_id,
            }
        )
    return queues, workers


def _key(job_id) -> str:
    return _keys.signature(str(job_id))[:16]


def _job_card(record: JobRecord, user) -> dict:
    mine = record.owner_id is not None and record.owner_id == user.pk
    card = {
        "key": _key(record.id),
        "label": job_label(record),
        "queue": record.queue,
        "status": record.status,
        "status_label": record.get_status_display(),
        **{name: _iso(getattr(record, name)) for name in TIMES},
        "worker": record.worker,
        "mine": mine,
    }
    if mine:
        card["id"] = str(record.id)
        card["url"] = reverse("jobs:detail", args=[record.id])
    return card


def _iso(value):
    return value.isoformat() if value else None
