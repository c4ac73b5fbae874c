"""The recovery sweeper: the job row is the source of truth, and Redis is made to agree.

Redis can be down when a request commits, wiped, restarted without its AOF, or failed
over to a replica that missed the last writes; a worker can be killed mid-job. In each
case a row says a job waits or runs while Redis has no live copy of it. Every
JOBS_SWEEP_INTERVAL seconds, one pass (one at a time across all hosts, under a Redis
lock that expires) puts that right from the rows:

1. rows pending for a few seconds (Redis was down at commit) are pushed;
2. waiting rows whose function no longer imports are failed with the import error;
3. rows started on a worker whose heartbeat expired, or whose worker has moved on to
   another job, are retried if attempts are left, else failed ("the worker running
   it stopped") with one alert;
4. queued, scheduled and deferred rows whose RQ job is gone are pushed again;
5. deferred rows whose parent finished while Redis missed it are released;
6. RQ's own registries are cleaned, so jobs enqueued without a row come back too.

Each step reads at most JOBS_SWEEP_BATCH rows, so a pass is bounded; every action is
a transition of jobs.states, so a pass is idempotent; each action logs one line. The
last pass's report is kept in Redis for /ops/.
"""

import contextlib
import json
import logging
import time
from datetime import timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import LockError, RedisError
from rq.job import Job
from rq.registry import clean_registries
from rq.worker_registration import clean_worker_registry

from jobs import states
from jobs.models import JobRecord
from jobs.services import job_push, job_repush
from jobs.worker import live_workers

logger = logging.getLogger("jobs.sweeper")

Status = JobRecord.Status
LOCK_KEY = "jobs:sweeper:lock"
REPORT_KEY = "jobs:sweeper:last"
CURSOR_KEY = "jobs:sweeper:cursor"
# A row younger than this is left alone: its own on-commit push may still be under way.
GRACE = timedelta(seconds=5)


def sweep():
    """Run one pass if no other runs now. Returns its report, or None if it did not run."""
    connection = django_rq.get_connection("default")
    lock = connection.lock(LOCK_KEY, timeout=max(60, 2 * settings.JOBS_SWEEP_INTERVAL))
    if not lock.acquire(blocking=False):
        return None
    began = time.monotonic()
    try:
        report = {
            "pushed_pending": push_pending(),
            "failed_unimportable": fail_unimportable(),
            "recovered_abandoned": recover_abandoned(connection),
            "repushed_lost": repush_lost(connection),
            "released_deferred": release_deferred(connection),
            "cleaned_registries": clean_rq_registries(),
        }
        report["at"] = timezone.now().isoformat()
        report["seconds"] = round(time.monotonic() - began, 3)
        connection.set(REPORT_KEY, json.dumps(report))
        logger.info("sweep done %s", " ".join(f"{key}={value}" for key, value in report.items()))
        return report
    finally:
        # LockError: it expired, the pass took longer than the lock and another may run.
        with contextlib.suppress(LockError):
            lock.release()


def last_report(connection=None):
    """The last pass's report, or None if no pass has run against this Redis."""
    connection = connection or django_rq.get_connection("default")
    raw = connection.get(REPORT_KEY)
    return json.loads(raw) if raw else None


def push_pending():
    pending = JobRecord.objects.filter(status=Status.PENDING, updated_at__lt=_settled())
    pushed = 0
    for record in pending.order_by("updated_at")[: settings.JOBS_SWEEP_BATCH]:
        if not job_push(record):
            break  # Redis is down: the next pass tries again
        logger.info("sweep pushed id=%s kind=%s reason=pending", record.id, record.kind)
        pushed += 1
    return pushed


def fail_unimportable():
    waiting = JobRecord.objects.filter(status__in=JobRecord.WAITING)
    failed = 0
    for func in waiting.values_list("func", flat=True).distinct():
        try:
            import_string(func)
        except ImportError as exc:
            error = f"The job's function cannot be imported: {exc}"
            for record in waiting.filter(func=func)[: settings.JOBS_SWEEP_BATCH]:
                if states.gave_up(record, error=error):
                    logger.warning(
                        "sweep failed id=%s kind=%s reason=%r", record.id, record.kind, error
                    )
                    failed += 1
    return failed


def recover_abandoned(connection):
    """Started rows whose attempt is over without the row hearing of it."""
    started = JobRecord.objects.filter(status=Status.STARTED).exclude(worker="")
    rows = list(started.order_by("started_at")[: settings.JOBS_SWEEP_BATCH])
    alive = live_workers({record.worker for record in rows}, connection=connection)
    # A worker that is alive but runs another job ended this one without telling the row
    # (its work horse was killed). Its heartbeat can lag a few seconds behind, hence the wait.
    moved_on_before = timezone.now() - timedelta(seconds=settings.JOBS_WORKER_TTL)
    recovered = 0
    for record in rows:
        running = alive.get(record.worker)
        if running == str(record.id):
            continue
        if running is not None and record.started_at > moved_on_before:
            continue
        reason = "worker-died" if running is None else "worker-moved-on"
        if states.recovered(record):
            logger.warning(
                "sweep recovered id=%s kind=%s worker=%s reason=%s",
                record.id,
                record.kind,
                record.worker,
                reason,
            )
            recovered += 1
            record.refresh_from_db()
            if record.status == Status.PENDING:
                job_repush(record)
    return recovered


def repush_lost(connection):
    """Waiting rows whose RQ job is gone from Redis, a batch at a time, round the table."""
    in_redis = JobRecord.objects.filter(status__in=states.IN_REDIS, enqueued_at__lt=_settled())
    cursor = (connection.get(CURSOR_KEY) or b"").decode()
    batch = list(_from(in_redis, cursor)[: settings.JOBS_SWEEP_BATCH])
    if len(batch) < settings.JOBS_SWEEP_BATCH and cursor:
        batch += list(
            in_redis.filter(pk__lte=cursor).order_by("pk")[: settings.JOBS_SWEEP_BATCH - len(batch)]
        )
    connection.set(CURSOR_KEY, str(batch[-1].pk) if batch else "")
    if not batch:
        return 0
    with connection.pipeline() as pipe:
        for record in batch:
            pipe.exists(Job.key_for(str(record.id)))
        exists = pipe.execute()
    repushed = 0
    for record, found in zip(batch, exists, strict=True):
        if not found and states.lost(record):
            logger.warning(
                "sweep repushed id=%s kind=%s reason=lost was=%s",
                record.id,
                record.kind,
                record.status,
            )
            record.refresh_from_db()
            job_repush(record)
            repushed += 1
    return repushed


def release_deferred(connection):
    """Deferred rows whose parent finished a while ago, but RQ still holds them back."""
    deferred = JobRecord.objects.filter(
        status=Status.DEFERRED,
        depends_on__status=Status.FINISHED,
        depends_on__finished_at__lt=_settled(),
    )
    batch = list(deferred[: settings.JOBS_SWEEP_BATCH])
    if not batch:
        return 0
    with connection.pipeline() as pipe:
        for record in batch:
            pipe.hget(Job.key_for(str(record.id)), "status")
        statuses = pipe.execute()
    released = 0
    for record, status in zip(batch, statuses, strict=True):
        if status == b"deferred" and states.lost(record):
            logger.warning(
                "sweep released id=%s kind=%s reason=parent-finished", record.id, record.kind
            )
            record.refresh_from_db()
            job_repush(record)
            released += 1
    return released


def clean_rq_registries():
    """What RQ's workers do every ten minutes, done every pass: expired entries go, and jobs
    whose worker died are retried or failed by RQ itself."""
    for name in settings.RQ_QUEUE_NAMES:
        queue = django_rq.get_queue(name)
        clean_registries(queue)
        clean_worker_registry(queue)
    return len(settings.RQ_QUEUE_NAMES)


def _settled():
    return timezone.now() - GRACE


def _from(queryset, cursor):
    queryset = queryset.order_by("pk")
    return queryset.filter(pk__gt=cursor) if cursor else queryset


def run_forever(*, interval=None, should_stop=lambda: False):
    """The loop behind `manage.py run_sweeper`: a pass, then a wait, until told to stop."""
    interval = interval or settings.JOBS_SWEEP_INTERVAL
    while not should_stop():
        try:
            sweep()
        except RedisError as exc:
            logger.warning("sweep skipped: Redis is unreachable (%s)", exc)
        except Exception:
            logger.exception("sweep failed; the next pass tries again")
        deadline = time.monotonic() + interval
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(0.5, interval))
