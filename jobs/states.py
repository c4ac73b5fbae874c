"""The job record's state machine: every change of JobRecord.status happens here.

Each transition is one function and one conditional UPDATE: it names the states it may
leave, and it changes nothing when the row is elsewhere. A job that RQ delivers twice,
a retry racing a requeue, or a sweeper recovering a job that a slow worker then finishes
can therefore never move a row backwards. The caller learns from the return value
whether its transition happened, and only the caller that moved the row acts on it
(sends the alert, cancels the next steps).

While a job runs, its row's `attempts` is the attempt's token: finished, failed,
retrying and waiting apply only to the attempt that is still current. A worker that was
given up for dead and then reports back finds its token gone and changes nothing.

    pending --pushed--> queued | scheduled | deferred --started--> started
    started --finished--> finished
    started --failed--> failed          started --retrying--> queued | scheduled
    started --waiting--> scheduled      started --recovered--> pending | failed
    scheduled --ran_early--> queued
    queued | scheduled | deferred --lost--> pending
    pending | queued | scheduled | deferred --canceled--> canceled
    any but finished --gave_up--> failed
    failed | canceled --requeued--> pending

docs/reliability.md draws the same graph.

Each attempt that fails leaves a JobAttempt row when it ends (how long it waited and ran,
on which worker and host, its error and traceback), written by the transition that ended
it; the attempt that finishes is the row itself (jobs.selectors.job_attempts);
what else happens to a job (the sweeper recovers it, it is canceled) is a JobEvent.
Together they are the job's timeline on /ops/jobs/<uuid>/. Each ended attempt is also
counted in the per-minute figures of jobs.stats, in the process, at no round trip.
"""

import functools
import logging
import os
import socket
from datetime import timedelta

from django.db import connection
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs import stats
from jobs.models import JobAttempt, JobEvent, JobRecord
from jobs.signals import job_failed

logger = logging.getLogger("jobs")

Status = JobRecord.Status
WAITING = JobRecord.WAITING
IN_REDIS = (Status.QUEUED, Status.SCHEDULED, Status.DEFERRED)
DEPENDENCY_FAILED = "An earlier step failed"
WORKER_STOPPED = "The worker running it stopped"
Outcome = JobAttempt.Outcome
HOSTNAME = socket.gethostname()


def _current_attempt(record):
    """The rows of `record` still running the attempt that `record` holds."""
    return JobRecord.objects.filter(pk=record.pk, status=Status.STARTED, attempts=record.attempts)


def _log(event, record, **fields):
    """One key=value line per transition, so that a log search follows a job by its id."""
    details = "".join(f" {key}={value}" for key, value in fields.items())
    level = logging.ERROR if event == "failed" else logging.INFO
    logger.log(level, "job %s id=%s kind=%s%s", event, record.id, record.kind, details)


def pushed(record, *, status):
    """pending -> queued, scheduled or deferred: RQ now holds the job."""
    values = [status, _db("enqueued_at", timezone.now()), _db("id", record.pk), Status.PENDING]
    with connection.cursor() as cursor:
        cursor.execute(_statements().pushed, values)
        moved = cursor.rowcount
    if moved:
        _log(status, record, queue=record.queue)
    return bool(moved)


def pushed_many(pks, *, status=Status.QUEUED):
    """pushed() for many rows at once; returns how many moved."""
    return JobRecord.objects.filter(pk__in=pks, status=Status.PENDING).update(
        status=status, enqueued_at=timezone.now()
    )


def started(job_id, *, worker):
    """waiting -> started, counting an attempt. Returns the row, or None if it is not waiting.

    A row that is already running is not waiting: a second delivery of the same job
    must not run beside the first.
    """
    statements = _statements()
    values = [Status.STARTED, _db("started_at", timezone.now()), "Running", worker, _host()]
    with connection.cursor() as cursor:
        cursor.execute(statements.started, [*values, _db("id", job_id), *WAITING])
        row = cursor.fetchone()
    if row is None:
        return None
    record = statements.record(row)
    _log("started", record, attempt=record.attempts, worker=worker)
    return record


def progressed(record, *, percent, stage):
    _current_attempt(record).update(progress=max(0, min(100, int(percent))), stage=stage[:200])


def finished(record, *, result, duration):
    values = [Status.FINISHED, "Done", _db("result", result), _db("finished_at", timezone.now())]
    attempt = [_db("id", record.pk), Status.STARTED, record.attempts]
    with connection.cursor() as cursor:
        cursor.execute(_statements().finished, [*values, *attempt])
        moved = cursor.rowcount
    if moved:
        _count(record, Outcome.FINISHED, duration)
        _log("finished", record, attempt=record.attempts, duration=f"{duration:.3f}s")
    return bool(moved)


def retrying(record, *, error, delay, duration=0.0, traceback=""):
    """started -> queued or scheduled: this attempt failed and RQ will run another.

    `enqueued_at` becomes the time the next attempt goes back to its queue.
    """
    next_at = timezone.now() + timedelta(seconds=delay)
    moved = _current_attempt(record).update(
        status=Status.SCHEDULED if delay else Status.QUEUED,
        stage=f"Retrying in {delay}s" if delay else "Retrying",
        error=error,
        enqueued_at=next_at,
    )
    if moved:
        _attempt_ended(
            record,
            Outcome.RETRYING,
            duration=duration,
            error=error,
            traceback=traceback,
            next_attempt_at=next_at,
        )
        _log(
            "retrying",
            record,
            attempt=record.attempts,
            duration=f"{duration:.3f}s",
            error=repr(error),
        )
    return bool(moved)


def failed(record, *, error, duration=None, traceback="", outcome=Outcome.FAILED):
    """started -> failed: the last attempt failed. Alerts staff and cancels the next steps.

    `outcome` STOPPED: the sweeper found its worker dead, in another process.
    """
    moved = _current_attempt(record).update(
        status=Status.FAILED, stage="Failed", error=error, finished_at=timezone.now()
    )
    if moved:
        _attempt_ended(record, outcome, duration=duration, error=error, traceback=traceback)
        _log(
            "failed",
            record,
            attempt=record.attempts,
            duration="unknown" if duration is None else f"{duration:.3f}s",
            error=repr(error),
        )
        _failed_for_good(record, error)
    return bool(moved)


def waiting(record, *, seconds, reason):
    """started -> scheduled without using an attempt: the task could not act yet."""
    moved = _current_attempt(record).update(
        status=Status.SCHEDULED,
        attempts=F("attempts") - 1,
        stage=f"{reason}; next try in {seconds}s",
    )
    if moved:
        _event(record, "waiting", f"{reason}; next try in {seconds}s")
        _log("waiting", record, seconds=seconds, reason=repr(reason))
    return bool(moved)


def recovered(record):
    """started -> pending (attempts left) or failed: its worker died mid-job.

    The caller pushes a pending row again. `record` must be the row as the caller read
    it, so that a worker that started a new attempt meanwhile is left alone.
    """
    if record.attempts < record.max_attempts:
        moved = _current_attempt(record).update(
            status=Status.PENDING, stage=f"{WORKER_STOPPED}; retrying", error=WORKER_STOPPED
        )
        if moved:
            _attempt_ended(record, Outcome.STOPPED, duration=None, error=WORKER_STOPPED)
            _event(record, "recovered", f"The sweeper found {WORKER_STOPPED.lower()}; retrying")
            _log("recovered", record, attempt=record.attempts, worker=record.worker)
        return bool(moved)
    moved = failed(record, error=WORKER_STOPPED, outcome=Outcome.STOPPED)
    if moved:
        _event(record, "recovered", f"The sweeper found {WORKER_STOPPED.lower()}; no attempts left")
    return moved


def ran_early(record):
    """scheduled -> queued: staff moved its delayed job or retry to its queue ahead of time.

    A retry's stage stops saying how long it waits; run_at becomes now, so that a push
    of the row again (the sweeper's, if Redis loses the job) does not put it back into
    the future. A row the worker started meanwhile, or that moved on otherwise, is left
    alone.
    """
    now = timezone.now()
    values = {
        "status": Status.QUEUED,
        "enqueued_at": now,
        "stage": "Retrying" if record.attempts else "",
    }
    if record.run_at and record.run_at > now:
        values["run_at"] = now
    moved = JobRecord.objects.filter(
        pk=record.pk, status=Status.SCHEDULED, attempts=record.attempts
    ).update(**values)
    if moved:
        _log("ran_early", record, queue=record.queue)
    return bool(moved)


def lost(record):
    """queued, scheduled or deferred -> pending: Redis no longer has the job."""
    moved = JobRecord.objects.filter(pk=record.pk, status=record.status).update(
        status=Status.PENDING
    )
    if moved:
        _event(record, "lost", f"Redis no longer had it ({record.status}); pushed again")
        _log("lost", record, was=record.status)
    return bool(moved)


def canceled(record, *, reason="Canceled"):
    """waiting -> canceled: it will not run. A running job finishes what it is doing."""
    moved = JobRecord.objects.filter(pk=record.pk, status__in=WAITING).update(
        status=Status.CANCELED, stage=reason, finished_at=timezone.now()
    )
    if moved:
        _event(record, "canceled", reason)
        _log("canceled", record, reason=repr(reason))
    return bool(moved)


def gave_up(record, *, error):
    """Anything unfinished -> failed, when the job can never run: its function does not
    import, or staff deleted its only copy in Redis."""
    unfinished = (*WAITING, Status.STARTED)
    moved = JobRecord.objects.filter(pk=record.pk, status__in=unfinished).update(
        status=Status.FAILED, stage="Failed", error=error, finished_at=timezone.now()
    )
    if moved:
        record.refresh_from_db()
        _event(record, "gave up", error)
        _log("failed", record, attempt=record.attempts, error=repr(error))
        _failed_for_good(record, error)
    return bool(moved)


def requeued(record):
    """failed or canceled -> pending, with a fresh set of attempts. The last error stays
    on the row until the job finishes."""
    retries = len(record.options.get("retry_intervals", []))
    moved = JobRecord.objects.filter(
        pk=record.pk, status__in=[Status.FAILED, Status.CANCELED]
    ).update(
        status=Status.PENDING,
        progress=0,
        stage="",
        finished_at=None,
        max_attempts=F("attempts") + retries + 1,
    )
    if moved:
        _log("requeued", record, attempts=record.attempts)
    return bool(moved)


def _attempt_ended(record, outcome, *, duration, error="", traceback="", next_attempt_at=None):
    """The JobAttempt row of the attempt `record` holds, which just ended without
    finishing, and its count in the per-minute figures."""
    values = {
        "job_id": record.pk,
        "number": record.attempts,
        "outcome": outcome,
        "queued_at": record.enqueued_at,
        "started_at": record.started_at,
        "ended_at": timezone.now(),
        "duration": duration,
        "worker": record.worker,
        "host": record.host,
        "error": error,
        "traceback": traceback,
        "next_attempt_at": next_attempt_at,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            _statements().attempt,
            [_db(name, values[name], model=JobAttempt) for name in ATTEMPT_FIELDS],
        )
    _count(record, outcome, duration)


def _count(record, outcome, duration):
    """An ended attempt in the per-minute figures of jobs.stats (no round trip)."""
    started_at, queued_at = record.started_at, record.enqueued_at
    wait = (started_at - queued_at).total_seconds() if started_at and queued_at else None
    stats.record(
        queue=record.queue,
        kind=record.kind,
        outcome=outcome,
        wait=None if wait is None else max(0.0, wait),
        run=duration,
    )


def _host():
    return f"{HOSTNAME}:{os.getpid()}"  # read at each start: a forking worker's horse


def _event(record, kind, message, *, actor=None):
    JobEvent.objects.create(job_id=record.pk, kind=kind, message=message[:300], actor=actor)


def _failed_for_good(record, error):
    job_failed.send(sender=JobRecord, record=record, error=error)
    # Steps that waited on this one will never run: say so on their rows.
    JobRecord.objects.filter(depends_on=record, status__in=WAITING).update(
        status=Status.CANCELED, stage=DEPENDENCY_FAILED, finished_at=timezone.now()
    )
    # The job's own follow-up, named by dotted path: the engine imports no app.
    if hook := record.options.get("on_failure"):
        import_string(hook)(record)


# pushed(), started() and finished() are the transitions every job makes, so each is one
# UPDATE written once in SQL rather than built by the ORM on every call: building it took
# three times as long as SQLite took to run it (docs/performance.md). started() reads the
# row back in the same statement (RETURNING, in SQLite 3.35+ and PostgreSQL), instead of
# a second query. They change the same columns, under the same conditions, as the
# QuerySet.update() calls beside them.


class _Statements:
    def __init__(self):
        meta, quote = JobRecord._meta, connection.ops.quote_name
        table = quote(meta.db_table)
        fields = meta.concrete_fields
        columns = ", ".join(quote(field.column) for field in fields)
        self._names = [field.attname for field in fields]
        self._converters = []  # (column index, [converter], column) as the ORM applies them
        for index, field in enumerate(fields):
            column = field.get_col(meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if found:
                self._converters.append((index, found, column))
        waiting = ", ".join(["%s"] * len(WAITING))
        self.started = (
            f"UPDATE {table} SET status = %s, attempts = attempts + 1, started_at = %s, "
            f"stage = %s, worker = %s, host = %s WHERE id = %s AND status IN ({waiting}) "
            f"RETURNING {columns}"
        )
        self.pushed = (
            f"UPDATE {table} SET status = %s, enqueued_at = %s WHERE id = %s AND status = %s"
        )
        attempt_table = quote(JobAttempt._meta.db_table)
        attempt_columns = [JobAttempt._meta.get_field(name).column for name in ATTEMPT_FIELDS]
        self.attempt = (
            f"INSERT INTO {attempt_table} ({', '.join(quote(c) for c in attempt_columns)}) "
            f"VALUES ({', '.join(['%s'] * len(attempt_columns))})"
        )
        self.finished = (
            f"UPDATE {table} SET status = %s, progress = 100, stage = %s, error = '', "
            "result = %s, finished_at = %s WHERE id = %s AND status = %s AND attempts = %s"
        )

    def record(self, row):
        """The JobRecord for a row of all its columns, as a query would have built it."""
        values = list(row)
        for index, converters, column in self._converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return JobRecord.from_db(connection.alias, self._names, values)


@functools.cache
def _statements_for(vendor):
    return _Statements()


def _statements():
    return _statements_for(connection.vendor)


ATTEMPT_FIELDS = (
    "job_id",
    "number",
    "outcome",
    "queued_at",
    "started_at",
    "ended_at",
    "duration",
    "worker",
    "host",
    "error",
    "traceback",
    "next_attempt_at",
)


def _db(name, value, *, model=JobRecord):
    """`value` as `model`'s field `name` stores it in this database."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)
