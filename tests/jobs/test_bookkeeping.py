"""The SimpleWorker's short path through RQ's bookkeeping (jobs.bookkeeping): the same
Redis as RQ's own worker leaves, in fewer round trips, and RQ's own code for the rest."""

import django_rq
import pytest
import rq
from redis.exceptions import ConnectionError as RedisConnectionError
from rq.worker import WorkerStatus

from jobs import bookkeeping
from jobs import worker as workers
from jobs.worker import SimpleWorker
from tests.jobs import tasks
from tests.jobs.redis_snapshot import snapshot

pytestmark = pytest.mark.django_db


def queues():
    return [django_rq.get_queue(name) for name in ("high", "default", "low")]


def run_one_snapshot_job(worker_class, enqueue, redis):
    """Run one snapshot_redis job with a fresh worker of `worker_class`; return what Redis
    held while it ran and after the worker stopped."""
    redis.flushdb()  # the session's own Redis
    tasks.SNAPSHOTS.clear()
    record = enqueue(tasks.snapshot_redis)
    worker = worker_class(queues(), connection=redis)
    worker.work(burst=True)
    record.refresh_from_db()
    assert record.status == "finished"
    return tasks.SNAPSHOTS[0], snapshot(redis, str(record.id), worker.name)


@pytest.fixture(params=["take", "start"])
def path(request, monkeypatch):
    """take(): the job popped and started in one script. start(): a queue was empty, the
    worker waited in RQ's own pop, and a pipeline started the job."""
    if request.param == "start":
        monkeypatch.setattr(bookkeeping, "take", lambda worker: None)
    return request.param


def test_while_a_job_runs_redis_holds_what_rqs_own_worker_would(enqueue, redis, path):
    ours, _ = run_one_snapshot_job(SimpleWorker, enqueue, redis)
    theirs, _ = run_one_snapshot_job(rq.SimpleWorker, enqueue, redis)

    assert ours == theirs
    assert ours["rq:job:J"][1]["status"] == "started"
    assert ours["rq:job:J"][2] == -1  # persisted while it runs
    assert ours["rq:wip:default"][1] == [("J:E", 360)]  # the queues' DEFAULT_TIMEOUT, 300 s, + 60
    assert ours["rq:worker:W"][1]["state"] == "busy"


def test_after_a_job_redis_holds_what_rqs_own_worker_would(enqueue, redis, path):
    _, ours = run_one_snapshot_job(SimpleWorker, enqueue, redis)
    _, theirs = run_one_snapshot_job(rq.SimpleWorker, enqueue, redis)

    assert ours == theirs
    assert "rq:job:J" not in ours  # result_ttl=0: the row holds the result
    assert not any(key.startswith("rq:execution") for key in ours)
    assert ours["rq:worker:W"][1]["successful_job_count"] == "1"


def test_a_dependent_added_while_its_parent_runs_is_enqueued_when_the_parent_ends(enqueue, redis):
    enqueue(tasks.enqueue_own_dependent, "late child")

    SimpleWorker(queues(), connection=redis).work(burst=True)

    assert redis.lrange("test:order", 0, -1) == [b"late child"]


def test_a_worker_that_cannot_reach_redis_to_take_a_job_waits_in_rqs_own_loop(
    enqueue, redis, monkeypatch
):
    """RQ's wait retries an unreachable Redis with a backoff; take() raising must not
    stop the worker instead."""
    record = enqueue(tasks.succeed, 1)
    take, failures = bookkeeping.take, []

    def flaky_take(worker):
        if not failures:
            failures.append(1)
            raise RedisConnectionError("Redis is restarting")
        return take(worker)

    monkeypatch.setattr(bookkeeping, "take", flaky_take)
    SimpleWorker(queues(), connection=redis).work(burst=True)

    record.refresh_from_db()
    assert (failures, record.status) == ([1], "finished")


def test_a_job_with_a_result_to_keep_takes_rqs_own_success_path(enqueue, redis):
    record = enqueue(tasks.succeed, 5, keep_result=3600)

    SimpleWorker(queues(), connection=redis).work(burst=True)

    job = django_rq.get_queue("default").fetch_job(str(record.id))
    assert (job.get_status(), job.return_value()) == ("finished", {"value": 5})


def test_a_job_costs_two_redis_round_trips(enqueue, redis, monkeypatch, redis_requests):
    """take() and finish(). RQ's own SimpleWorker makes 28 (bench/profiles/worker.txt)."""
    monkeypatch.setattr(workers, "RQ_HEARTBEAT_EVERY", 3600)
    monkeypatch.setattr(workers, "SUSPENSION_CHECK_EVERY", 3600)
    sent = redis_requests

    def round_trips_for(jobs):
        for i in range(jobs):
            enqueue(tasks.succeed, i)
        sent.clear()
        SimpleWorker(queues(), connection=redis).work(burst=True)
        return len(sent)

    round_trips_for(1)  # loads the finish script into Redis
    assert (round_trips_for(12) - round_trips_for(2)) / 10 == 2


def test_rq_suspend_is_noticed_within_a_second(redis):
    worker = SimpleWorker(queues(), connection=redis)
    worker.check_for_suspension(burst=True)  # not suspended: carries on
    rq.suspension.suspend(redis)
    try:
        worker.check_for_suspension(burst=True)  # checked under a second ago: skipped

        worker._suspension_checked_at -= workers.SUSPENSION_CHECK_EVERY
        with pytest.raises(rq.exceptions.StopRequested):
            worker.check_for_suspension(burst=True)
    finally:
        rq.suspension.resume(redis)


def test_the_workers_state_is_written_when_it_changes(redis):
    worker = SimpleWorker(queues(), connection=redis)
    worker.set_state(WorkerStatus.IDLE)
    redis.hset(worker.key, "state", "overwritten")

    worker.set_state(WorkerStatus.IDLE)  # unchanged: no write
    assert redis.hget(worker.key, "state") == b"overwritten"

    worker.set_state(WorkerStatus.BUSY)
    assert redis.hget(worker.key, "state") == b"busy"
