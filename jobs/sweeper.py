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
4. queued, scheduled and deferred rows whose RQ job is gone, is still marked as
   running on a worker whose heartbeat expired, or was taken from its queue but never
   started (Redis failed over in between), are pushed again;
5. deferred rows whose parent finished while Redis missed it are released;
6. due delayed jobs and retries are moved to their queues when no RQ scheduler runs;
7. RQ's own registries are cleaned, so jobs enqueued without a row come back too.

Each step reads at most JOBS_SWEEP_BATCH rows, so a pass is bounded; every action is
a transition of jobs.states, so a pass is idempotent; each action logs one line. The
last pass's report is kept in Redis for /ops/.
"""

import json
import logging
import os
import socket
import time
import uuid
from datetime import timedelta

from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError
from rq.executions import Execution
from rq.job import Job
from rq.registry import clean_registries
from rq.scheduler import RQScheduler
from rq.worker_registration import clean_worker_registry

from jobs import connections, states, stats
from jobs.conf import jobs_settings
from jobs.models import JobRecord
from jobs.services import job_push, job_repush
from jobs.worker import live_workers

logger = logging.getLogger("jobs.sweeper")

Status = JobRecord.Status
LOCK_KEY = "jobs:sweeper:lock"
REPORT_KEY = "jobs:sweeper:last"
CURSOR_KEY = "jobs:sweeper:cursor"
LOCK_TOKEN = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
# Deletes the lock only if it is still ours: after an expiry another pass may hold it.
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# A row younger than this is left alone: its own on-commit push may still be under way.
GRACE = timedelta(seconds=5)
# A worker writes to Redis again within milliseconds of taking a job out of its queue;
# a job still out of its queue, and unclaimed, this long after is stranded.
STRANDED_AFTER_SECONDS = 1


def sweep():
    """Run one pass if no other runs now. Returns its report, or None if it did not run."""
    connection = connections.get_connection("default")
    if not _take_lock(connection):
        return None
    began = time.monotonic()
    try:
        report = {}
        for name, step in STEPS:
            report[name] = step(connection)
            _take_lock(connection)  # a long pass keeps the lock
        stats.sample_queues()  # the charts' queue depth, a point per pass at least
        report["at"] = timezone.now().isoformat()
        report["seconds"] = round(time.monotonic() - began, 3)
        connection.set(REPORT_KEY, json.dumps(report))
        logger.info("sweep done %s", " ".join(f"{key}={value}" for key, value in report.items()))
        return report
    finally:
        connection.register_script(RELEASE_LOCK)(keys=[LOCK_KEY], args=[LOCK_TOKEN])


def _take_lock(connection):
    """Take the pass lock, or extend it if this process holds it already.

    Each sweeper process has its own token. A lock that Redis brought back from its AOF
    after a crash mid-pass is still this process's, so its next pass is not held up.
    """
    seconds = max(30, 2 * jobs_settings.JOBS_SWEEP_INTERVAL)
    if connection.set(LOCK_KEY, LOCK_TOKEN, nx=True, ex=seconds):
        return True
    if connection.get(LOCK_KEY) == LOCK_TOKEN.encode():
        connection.expire(LOCK_KEY, seconds)
        return True
    return False


def last_report(connection=None):
    """The last pass's report, or None if no pass has run against this Redis."""
    connection = connection or connections.get_connection("default")
    raw = connection.get(REPORT_KEY)
    return json.loads(raw) if raw else None


def push_pending(connection):
    pending = JobRecord.objects.filter(status=Status.PENDING, updated_at__lt=_settled())
    pushed = 0
    for record in pending.order_by("updated_at")[: jobs_settings.JOBS_SWEEP_BATCH]:
        if not job_push(record=record):
            break  # Redis is down: the next pass tries again
        logger.info("sweep pushed id=%s kind=%s reason=pending", record.id, record.kind)
        pushed += 1
    return pushed


def fail_unimportable(connection):
    waiting = JobRecord.objects.filter(status__in=JobRecord.WAITING)
    failed = 0
    for func in waiting.values_list("func", flat=True).distinct():
        try:
            import_string(func)
        except ImportError as exc:
            error = f"The job's function cannot be imported: {exc}"
            for record in waiting.filter(func=func)[: jobs_settings.JOBS_SWEEP_BATCH]:
                if states.gave_up(record, error=error):
                    logger.warning(
                        "sweep failed id=%s kind=%s reason=%r", record.id, record.kind, error
                    )
                    failed += 1
    return failed


def recover_abandoned(connection):
    """Started rows whose attempt is over without the row hearing of it."""
    started = JobRecord.objects.filter(status=Status.STARTED).exclude(worker="")
    rows = list(started.order_by("started_at")[: jobs_settings.JOBS_SWEEP_BATCH])
    alive = live_workers({record.worker for record in rows}, connection=connection)
    # A worker that is alive but runs another job ended this one without telling the row
    # (its work horse was killed). Its heartbeat can lag a few seconds behind, hence the wait.
    moved_on_before = timezone.now() - timedelta(seconds=jobs_settings.JOBS_WORKER_TTL)
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
                job_repush(record=record, at_front=True)
    return recovered


def repush_lost(connection):
    """Waiting rows whose RQ job is gone from Redis, a batch at a time, round the table.

    A copy that RQ still marks as running on a dead worker is as good as gone: the row
    says the attempt ended (it failed and waits for its retry), but the worker died
    before it told Redis, or Redis failed over and lost what it was told. RQ itself would
    notice only when the execution's entry in its started registry expires, a minute and
    a half later.
    """
    in_redis = JobRecord.objects.filter(status__in=states.IN_REDIS, enqueued_at__lt=_settled())
    cursor = (connection.get(CURSOR_KEY) or b"").decode()
    batch = list(_from(in_redis, cursor)[: jobs_settings.JOBS_SWEEP_BATCH])
    if len(batch) < jobs_settings.JOBS_SWEEP_BATCH and cursor:
        batch += list(
            in_redis.filter(pk__lte=cursor).order_by("pk")[
                : jobs_settings.JOBS_SWEEP_BATCH - len(batch)
            ]
        )
    connection.set(CURSOR_KEY, str(batch[-1].pk) if batch else "")
    if not batch:
        return 0
    with connection.pipeline() as pipe:
        for record in batch:
            pipe.hmget(Job.key_for(str(record.id)), "status", "worker_name")
        copies = [(status, (worker or b"").decode()) for status, worker in pipe.execute()]
    stranded = _stranded(
        connection,
        [record for record, (status, _) in zip(batch, copies, strict=True) if status == b"queued"],
    )
    # Read after _stranded()'s pause, so that it also names workers that took a suspect
    # meanwhile. A worker that died after taking a job but before its work horse marked it
    # started leaves it "queued", yet out of its queue: only the started registry names it.
    taken = _taken_by_workers(connection, {record.queue for record in batch})
    running_on = {worker for status, worker in copies if status == b"started" and worker}
    alive = live_workers(running_on | set(taken.values()), connection=connection)
    repushed = 0
    for record, (status, worker) in zip(batch, copies, strict=True):
        was_taken = str(record.id) in taken
        worker = worker or taken.get(str(record.id), "")
        if status is None:
            reason = "lost"
        elif (status == b"started" or was_taken) and worker and worker not in alive:
            reason = "worker-died"
        elif str(record.id) in stranded and not was_taken:
            reason = "stranded"
        else:
            continue
        if states.lost(record):
            logger.warning(
                "sweep repushed id=%s kind=%s reason=%s was=%s",
                record.id,
                record.kind,
                reason,
                record.status,
            )
            record.refresh_from_db()
            job_repush(record=record, at_front=reason == "worker-died")
            repushed += 1
    return repushed


def _stranded(connection, records):
    """The ids of `records`, whose RQ copies say "queued", that are in no queue for good.

    RQ's BLPOP takes a job out of its queue before the worker writes anything else, so
    a job whose worker never made that next write is in no queue and no registry, and
    nothing will ever run it. That happens when the worker's host is cut off while it
    waits in BLPOP (Redis hands the job to a connection nobody reads any more), and when
    Redis fails over to a replica that had the BLPOP but not what followed. A job that a
    worker is taking right now looks the same for a few milliseconds, so the suspects
    are looked at again a moment later; the caller also leaves out any job a worker's
    started registry names.

    Finding them reads each queue's list twice per pass, before and after that moment.
    """
    suspects = _out_of_their_queues(connection, records)
    if not suspects:
        return set()
    time.sleep(STRANDED_AFTER_SECONDS)
    suspects = [record for record in records if str(record.id) in suspects]
    with connection.pipeline() as pipe:
        for record in suspects:
            pipe.hget(Job.key_for(str(record.id)), "status")
        statuses = pipe.execute()
    still_queued = [
        record for record, status in zip(suspects, statuses, strict=True) if status == b"queued"
    ]
    return _out_of_their_queues(connection, still_queued)


def _out_of_their_queues(connection, records):
    """The ids of `records` that are not in their RQ queue's list.

    One LRANGE per queue rather than an LPOS per job: a pass reads each queue once.
    """
    if not records:
        return set()
    listed = set()
    for name in {record.queue for record in records}:
        listed.update(connection.lrange(connections.get_queue(name).key, 0, -1))
    return {str(record.id) for record in records if str(record.id).encode() not in listed}


def _taken_by_workers(connection, queue_names):
    """{job id: name of the worker that took it} from the queues' started registries."""
    members = [
        member.decode()
        for name in sorted(queue_names)
        for member in connection.zrange(connections.get_queue(name).started_job_registry.key, 0, -1)
    ]
    with connection.pipeline() as pipe:
        for member in members:
            pipe.hget(Execution.from_composite_key(member, connection).key, "worker_name")
        workers = pipe.execute() if members else []
    return {
        member.split(":", 1)[0]: (worker or b"").decode()
        for member, worker in zip(members, workers, strict=True)
        if worker
    }


def release_deferred(connection):
    """Deferred rows whose parent finished a while ago, but RQ still holds them back."""
    deferred = JobRecord.objects.filter(
        status=Status.DEFERRED,
        depends_on__status=Status.FINISHED,
        depends_on__finished_at__lt=_settled(),
    )
    batch = list(deferred[: jobs_settings.JOBS_SWEEP_BATCH])
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
            job_repush(record=record)
            released += 1
    return released


def enqueue_due(connection):
    """Do the RQ scheduler's job while no scheduler holds its locks.

    RQ's scheduler runs inside one worker (--with-scheduler). It stops at the first Redis
    error, and that worker starts it again only at its next maintenance, ten minutes
    on; until then delayed jobs and retries would wait past their time. Its locks expire
    a minute after it stops, and then a pass moves the due jobs itself.
    """
    scheduler = RQScheduler(
        [connections.get_queue(name) for name in jobs_settings.RQ_QUEUE_NAMES],
        connection=connection,
    )
    if not scheduler.acquire_locks():
        return 0  # a live scheduler does it
    try:
        due = sum(
            len(connections.get_queue(name).scheduled_job_registry.get_jobs_to_schedule())
            for name in scheduler.acquired_locks
        )
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()
    return due


def clean_rq_registries(connection):
    """What RQ's workers do every ten minutes, done every pass: expired entries go, and jobs
    whose worker died are retried or failed by RQ itself."""
    for name in jobs_settings.RQ_QUEUE_NAMES:
        queue = connections.get_queue(name)
        clean_registries(queue)
        clean_worker_registry(queue)
    return len(jobs_settings.RQ_QUEUE_NAMES)


STEPS = [
    ("pushed_pending", push_pending),
    ("failed_unimportable", fail_unimportable),
    ("recovered_abandoned", recover_abandoned),
    ("repushed_lost", repush_lost),
    ("released_deferred", release_deferred),
    ("enqueued_due", enqueue_due),
    ("cleaned_registries", clean_rq_registries),
]


def _settled():
    return timezone.now() - GRACE


def _from(queryset, cursor):
    queryset = queryset.order_by("pk")
    return queryset.filter(pk__gt=cursor) if cursor else queryset


def run_forever(*, interval=None, should_stop=lambda: False):
    """The loop behind `manage.py run_sweeper`: a pass, then a wait, until told to stop."""
    interval = interval or jobs_settings.JOBS_SWEEP_INTERVAL
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
