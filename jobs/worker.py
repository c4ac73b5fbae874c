"""RQ workers that say, every few seconds, that they are alive and what they are running.

Stock RQ refreshes a worker's key only between jobs, or every 30 s while a work horse
runs, with a TTL of minutes, so a worker killed with `kill -9` looks alive for up to
eight minutes and its job sits in "started" until a registry cleanup notices, about
eleven. These workers keep a small key of their own, `jobs:worker:<name>`, refreshed by
a thread every JOBS_WORKER_TTL / 3 seconds and holding the id of the job being run. Its
expiry is the death certificate the sweeper (jobs.sweeper) and /healthz read.

A worker's children are also tied to it: RQ puts a work horse in its own process group,
so killing the worker's group, or only the worker, left the horse running while the
sweeper gave its job to another worker, and left the scheduler process (from
--with-scheduler) running for good. Here the kernel kills every child a worker forks
when the worker dies (PR_SET_PDEATHSIG).

Use them with `manage.py rqworker --worker-class jobs.worker.SimpleWorker`, which runs
jobs in the worker process and is what the Procfile and compose start, or
`jobs.worker.Worker`, which forks a work horse per job. docs/performance.md measures both:
the fork costs more than the job. A SimpleWorker that dies with its job is restarted by
its supervisor, and the sweeper hands the job back; a job's timeout still applies, by
SIGALRM in the worker itself.

Both also save Redis round trips that RQ spends on itself between jobs: they refresh
RQ's own worker key, and look for `rq suspend`, at most once a second (RQ does each after
every dequeue, for a key that lives for minutes), and write the worker's state only when
it changes. The SimpleWorker also does RQ's bookkeeping for each job in two round trips
instead of about fifteen (jobs.bookkeeping).

Both take jobs only from queues that are not paused (jobs.pausing), which RQ cannot do:
its `rq suspend` stops every queue at once.
"""

import contextlib
import ctypes
import logging
import math
import os
import signal
import sys
import threading
import time

import rq
from django.db import close_old_connections
from django.db import connections as db_connections
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.timeouts import JobTimeoutException
from rq.utils import as_text, now
from rq.worker import WorkerStatus

from jobs import bookkeeping, connections, pausing, stats
from jobs.conf import jobs_settings

logger = logging.getLogger("jobs.worker")

KEY = "jobs:worker:{}"
IDLE = "-"  # the key's value while no job runs
PR_SET_PDEATHSIG = 1
RQ_HEARTBEAT_EVERY = 1.0  # seconds; RQ's worker key itself lives worker_ttl + 60 s
SUSPENSION_CHECK_EVERY = 1.0  # seconds: how soon a worker notices `rq suspend`
PAUSED_WAIT = 2  # seconds: how long a worker with a paused queue waits before it looks again
PAUSED = "paused"  # the state of a worker whose every queue is paused


def heartbeat_key(name):
    return KEY.format(name)


def live_workers(names, *, connection=None):
    """{worker name: id of the job it runs, or IDLE} for those of `names` that are alive."""
    names = list(names)
    if not names:
        return {}
    connection = connection or connections.get_connection("default")
    values = connection.mget([heartbeat_key(name) for name in names])
    return {name: value.decode() for name, value in zip(names, values, strict=True) if value}


class Heartbeat:
    """The thread that keeps one worker's key alive."""

    def __init__(self, name):
        self.name = name
        self.job_id = IDLE
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{name}", daemon=True)
        # Not the worker's connection, which blocks for seconds at a time in BLPOP: the
        # process's shared client, whose pool gives this thread a connection of its own.
        self._connection = connections.get_connection("default")

    @property
    def ttl(self):
        return jobs_settings.JOBS_WORKER_TTL

    def start(self):
        self.beat()
        self._thread.start()

    def beat(self):
        self._connection.set(heartbeat_key(self.name), self.job_id, ex=self.ttl)

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with contextlib.suppress(RedisError):  # it expires by itself
            self._connection.delete(heartbeat_key(self.name))

    def _run(self):
        while not self._stop.wait(self.ttl / 3):
            try:
                self.beat()
            except RedisError as exc:
                logger.warning("worker %s: heartbeat failed (%s)", self.name, exc)
            stats.flush()  # an idle worker's last counts, which no next job writes


class LivenessMixin:
    """Registers a Heartbeat with the worker's birth and removes it at its death."""

    liveness = None  # RQ already has a heartbeat() method

    def register_birth(self):
        super().register_birth()
        tie_children_to(os.getpid())
        self.liveness = Heartbeat(self.name)
        self.liveness.start()

    def register_death(self):
        if self.liveness is not None:
            self.liveness.stop()
        stats.flush()
        super().register_death()

    def execute_job(self, job, queue):
        self.liveness.job_id = job.id
        try:
            return super().execute_job(job, queue)
        finally:
            self.liveness.job_id = IDLE


class FrugalLoopMixin:
    """The Redis round trips RQ's work loop makes for itself, made only when they matter."""

    _rq_heartbeat_at = 0.0
    _suspension_checked_at = float("-inf")

    def heartbeat(self, timeout=None, pipeline=None):
        """RQ's heartbeat, skipped when it is on its own and the last one is under a
        second old. Heartbeats inside RQ's pipelines (which set a job's longer TTL) cost
        no round trip of their own and always go through."""
        if pipeline is None and time.monotonic() - self._rq_heartbeat_at < RQ_HEARTBEAT_EVERY:
            return
        super().heartbeat(timeout, pipeline)
        if pipeline is None:
            self._rq_heartbeat_at = time.monotonic()

    def check_for_suspension(self, burst):
        """RQ's check for `rq suspend` (a round trip), at most once a second."""
        if time.monotonic() - self._suspension_checked_at < SUSPENSION_CHECK_EVERY:
            return
        super().check_for_suspension(burst)
        self._suspension_checked_at = time.monotonic()

    def set_state(self, state, pipeline=None):
        """RQ writes the worker's state before every dequeue and after every job, most
        often the "idle" it already holds; this writes it when it changes."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)


class PausableMixin:
    """RQ's wait for the next job, on the worker's queues that are not paused.

    What the worker knows of the paused set comes with the replies it gets anyway: take()
    and pausing.pop() report it. While none of its queues is paused, the worker waits in
    RQ's long blocking pop (minutes): a queue paused meanwhile that hands it a job gets
    the job back (pausing.CLAIM). While one is, the pop lasts PAUSED_WAIT seconds, and
    the worker reads the set again at the next heartbeat, in the same round trip: about
    one round trip a second more than RQ's wait, and only while a queue is paused.
    """

    paused_queues = frozenset()  # those of the worker's queues it last saw paused
    _paused_read_at = float("-inf")

    def paused_queues_seen(self, names):
        ours = set(self.queue_names())
        seen = frozenset(name for name in names if name in ours)
        if seen != self.paused_queues:
            self.log.info(
                "Worker %s: paused queues: %s", self.name, ", ".join(sorted(seen)) or "none"
            )
        self.paused_queues = seen
        self._paused_read_at = time.monotonic()

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """The next job and its queue, or None: in burst mode (`timeout` None) when every
        queue not paused is empty, else when the worker was idle for `max_idle_time`.

        While every queue it serves is paused, the worker's state (in RQ's worker key)
        is "paused" rather than "idle"."""
        self.procline("Listening on " + ",".join(self.queue_names()))
        connection_wait_time = 1.0
        idle_since = time.monotonic()
        while True:
            try:
                self._heartbeat_and_read_paused()
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                queues = [q for q in self._ordered_queues if q.name not in self.paused_queues]
                wait = timeout
                if wait is not None and self.paused_queues:
                    wait = min(wait, PAUSED_WAIT)
                if wait is not None and max_idle_time is not None:
                    idle_left = math.ceil(max_idle_time - (time.monotonic() - idle_since))
                    if idle_left <= 0:
                        break
                    wait = min(wait, idle_left)
                if not queues and timeout is None:
                    break  # burst mode: as if they were empty
                self.set_state(WorkerStatus.IDLE if queues else PAUSED)
                if not queues:
                    time.sleep(wait)
                    continue
                result = pausing.pop(self, queues, wait)
                if result is not None:
                    job, queue = result
                    self.reorder_queues(reference_queue=queue)
                    self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)
                    self.heartbeat()
                    return result
                if timeout is None:  # the look found nothing it may take
                    break
            except (RedisConnectionError, RedisTimeoutError) as exc:
                self.log.error(
                    "Worker %s: could not connect to Redis (%s), retrying in %d seconds...",
                    self.name,
                    exc,
                    connection_wait_time,
                )
                time.sleep(connection_wait_time)
                connection_wait_time = min(
                    connection_wait_time * self.exponential_backoff_factor,
                    self.max_connection_wait_time,
                )
        self.heartbeat()
        return None

    def _heartbeat_and_read_paused(self):
        """RQ's heartbeat; when one of the worker's queues is paused, with a read of the
        paused set in the same round trip, at most once a second."""
        if not self.paused_queues or time.monotonic() - self._paused_read_at < 1.0:
            self.heartbeat()
            return
        with self.connection.pipeline(transaction=False) as pipeline:
            self.heartbeat(pipeline=pipeline)
            pipeline.smembers(pausing.KEY)
            names = pipeline.execute()[-1]
        self.paused_queues_seen(as_text(name) for name in names)


class Worker(LivenessMixin, FrugalLoopMixin, PausableMixin, rq.Worker):
    """RQ's forking worker, with a heartbeat and a work horse that dies with it."""


class SimpleWorker(LivenessMixin, FrugalLoopMixin, PausableMixin, rq.SimpleWorker):
    """RQ's non-forking worker, with a heartbeat and RQ's bookkeeping in two round trips.

    Jobs share the worker's database connection, so each job is treated like a request:
    a connection that broke or outlived CONN_MAX_AGE is closed before and after it, and
    the next query opens a fresh one. Inside a transaction, where the test suite runs
    jobs, the connection is left alone.
    """

    def execute_job(self, job, queue):
        _close_old_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            _close_old_connections()

    _taken = None  # the Execution of the job take() just started

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """The next job of a queue that is not paused, taken and started in one round
        trip; when every such queue is empty, the wait for one (PausableMixin)."""
        try:
            self.heartbeat()
            taken = bookkeeping.take(self)  # which sets the worker's TTL from the job's
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # The wait below logs the outage and retries with a backoff.
            self.log.warning("Worker %s: could not take a job (%s)", self.name, exc)
            taken = None
        if taken is None:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        job, queue, self._taken = taken
        self.reorder_queues(reference_queue=queue)
        self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)
        return job, queue

    def prepare_execution(self, job):
        taken, self._taken = self._taken, None
        if taken is not None and taken.job_id == job.id:
            return taken
        return bookkeeping.start(self, job)

    def perform_job(self, job, queue, execution):
        """RQ's perform_job(), whose preparation start() has done, and whose success is
        bookkeeping.finish() when it fits."""
        try:
            job.started_at = now()
            timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                return_value = job.perform()
            if bookkeeping.fits(self, job, return_value) and bookkeeping.finish(
                self, job, execution
            ):
                self.log.info("Worker %s: %s: Job OK (%s)", self.name, job.origin, job.id)
            else:
                self._finalize_success(job, queue, execution, return_value)
        except:  # noqa: E722  (as in RQ's own perform_job: whatever it raised fails the job)
            self._finalize_failure(job, queue, execution, sys.exc_info())
            return False
        return True


def _close_old_connections():
    if not any(connection.in_atomic_block for connection in db_connections.all()):
        close_old_connections()


_tied = set()


def tie_children_to(parent_pid):
    """From now on, every process this one forks is killed when this one dies (Linux)."""
    if parent_pid in _tied or not sys.platform.startswith("linux"):
        return
    _tied.add(parent_pid)
    os.register_at_fork(after_in_child=lambda: _die_with(parent_pid))


def _die_with(parent_pid):
    if os.getppid() != parent_pid:
        return  # a grandchild: tied to its own parent, if at all
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
