"""Pausing one queue (jobs.pausing): workers stop taking its jobs, which wait in it, and
take them all once it is resumed; their other queues carry on meanwhile."""

import django_rq
import pytest
from django.db import transaction
from rq.utils import now

from jobs import bookkeeping, pausing
from jobs import worker as workers
from jobs.models import JobRecord
from jobs.services import job_enqueue
from jobs.worker import SimpleWorker
from tests.jobs import tasks
from tests.polling import wait_for


def queues(*names):
    return [django_rq.get_queue(name) for name in names or ("high", "default", "low")]


def statuses(records):
    return [JobRecord.objects.get(pk=record.pk).status for record in records]


@pytest.fixture(params=["take", "pop"])
def path(request, monkeypatch):
    """take(): the SimpleWorker's script looks at the paused set. pop(): take() found
    nothing (as when RQ's forking Worker looks), and the worker's own look does."""
    if request.param == "pop":
        monkeypatch.setattr(bookkeeping, "take", lambda worker: None)
    return request.param


@pytest.mark.django_db
class TestInProcess:
    def test_a_burst_worker_leaves_a_paused_queues_jobs_and_takes_the_others(
        self, enqueue, run_jobs, redis, path
    ):
        waiting = [enqueue(tasks.succeed, i) for i in range(3)]
        other = enqueue(tasks.succeed, 9, queue="low")
        pausing.pause("default")

        run_jobs()

        assert statuses(waiting) == ["queued"] * 3
        assert statuses([other]) == ["finished"]
        assert django_rq.get_queue("default").get_job_ids() == [str(r.id) for r in waiting]

        pausing.resume("default")
        run_jobs()

        assert statuses(waiting) == ["finished"] * 3

    def test_a_burst_worker_whose_every_queue_is_paused_stops_as_if_they_were_empty(
        self, enqueue, redis, path
    ):
        record = enqueue(tasks.succeed, 1)
        pausing.pause("default")
        worker = SimpleWorker(queues("default"), connection=redis)

        assert worker.dequeue_job_and_maintain_ttl(timeout=None) is None
        assert SimpleWorker(queues("default"), connection=redis).work(burst=True) is False
        assert statuses([record]) == ["queued"]

    def test_a_job_still_costs_two_round_trips_while_another_queue_is_paused(
        self, enqueue, redis, monkeypatch, redis_requests
    ):
        monkeypatch.setattr(workers, "RQ_HEARTBEAT_EVERY", 3600)
        monkeypatch.setattr(workers, "SUSPENSION_CHECK_EVERY", 3600)
        pausing.pause("low")
        enqueue(tasks.succeed, 0, queue="low")  # waits throughout
        sent = redis_requests

        def round_trips_for(jobs):
            for i in range(jobs):
                enqueue(tasks.succeed, i)
            sent.clear()
            SimpleWorker(queues(), connection=redis).work(burst=True)
            return len(sent)

        round_trips_for(1)  # loads the scripts into Redis
        assert (round_trips_for(12) - round_trips_for(2)) / 10 == 2
        assert django_rq.get_queue("low").count == 1

    def test_a_worker_whose_every_queue_is_paused_idles_instead_of_spinning(
        self, redis, monkeypatch, redis_requests
    ):
        """Until its max_idle_time: each look at the paused set is PAUSED_WAIT apart."""
        monkeypatch.setattr(workers, "PAUSED_WAIT", 1)
        pausing.pause("default")
        sent = redis_requests
        worker = SimpleWorker(queues("default"), connection=redis)
        worker.register_birth()
        worker.last_cleaned_at = now()  # RQ's maintenance is not what this counts
        looks, heartbeat = [], worker.heartbeat
        worker.heartbeat = lambda *args, **kwargs: looks.append(1) or heartbeat(*args, **kwargs)
        try:
            sent.clear()
            assert worker.dequeue_job_and_maintain_ttl(timeout=60, max_idle_time=3) is None
            assert worker.get_state() == workers.PAUSED
        finally:
            worker.register_death()
        # One turn of its loop (which starts with a heartbeat) per second-long wait, and
        # about a dozen round trips in all, where a worker that spins makes thousands.
        assert len(looks) <= 6
        assert len(sent) < 20

    def test_a_job_popped_from_a_queue_paused_during_the_wait_goes_back_to_its_head(
        self, enqueue, redis
    ):
        first, second = enqueue(tasks.succeed, 1), enqueue(tasks.succeed, 2)
        worker = SimpleWorker(queues("default", "low"), connection=redis)
        pausing.pause("default")  # after the worker last looked: it does not know

        assert pausing.pop(worker, worker.queues, timeout=1) is None

        assert worker.paused_queues == {"default"}
        assert django_rq.get_queue("default").get_job_ids() == [str(first.id), str(second.id)]

    def test_a_single_queue_worker_puts_the_job_back_from_rqs_intermediate_list(
        self, enqueue, redis
    ):
        record = enqueue(tasks.succeed, 1)
        queue = django_rq.get_queue("default")
        worker = SimpleWorker([queue], connection=redis)
        pausing.pause("default")

        assert pausing.pop(worker, worker.queues, timeout=1) is None

        assert queue.get_job_ids() == [str(record.id)]
        assert redis.llen(queue.intermediate_queue_key) == 0


def enqueue_committed(queue, count, *, start=0):
    with transaction.atomic():
        return [
            job_enqueue(
                func="tests.jobs.tasks.succeed", kind="succeed", args=[start + i], queue=queue
            )
            for i in range(count)
        ]


def blocked_in(redis, command):
    """Whether a client of `redis` waits in the blocking `command` (a worker's long wait)."""
    return any(client["cmd"] == command for client in redis.client_list())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("worker_class", ["jobs.worker.Worker", "jobs.worker.SimpleWorker"])
def test_a_real_worker_leaves_a_paused_queues_jobs_waiting_then_runs_them_all(
    worker_process, redis, worker_class
):
    process = worker_process("default", "low", worker_class=worker_class)
    [warm_up] = enqueue_committed("default", 1)
    wait_for(lambda: statuses([warm_up]) == ["finished"], timeout=60, what="the worker to start")
    # In its long wait (minutes), when the pause comes, as a worker usually is.
    wait_for(lambda: blocked_in(redis, "blpop"), what="the worker to wait for jobs")

    pausing.pause("default")
    paused = enqueue_committed("default", 5)
    [other] = enqueue_committed("low", 1)

    # The worker serves default first: had it taken any of them, it would have by now.
    wait_for(lambda: statuses([other]) == ["finished"], what="the low job")
    assert statuses(paused) == ["queued"] * 5
    assert django_rq.get_queue("default").get_job_ids() == [str(r.id) for r in paused]
    assert process.poll() is None

    pausing.resume("default")

    wait_for(lambda: statuses(paused) == ["finished"] * 5, what="the resumed jobs")
    assert django_rq.get_queue("default").count == 0
    assert django_rq.get_queue("default").failed_job_registry.count == 0
    assert JobRecord.objects.get(pk=paused[0].pk).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_whose_only_queue_is_paused_idles_and_resumes(worker_process, redis):
    process = worker_process("default", worker_class="jobs.worker.SimpleWorker")
    [warm_up] = enqueue_committed("default", 1)
    wait_for(lambda: statuses([warm_up]) == ["finished"], timeout=60, what="the worker to start")
    wait_for(lambda: blocked_in(redis, "blmove"), what="the worker to wait for jobs")
    [name] = [key.decode().removeprefix("rq:worker:") for key in redis.smembers("rq:workers")]

    pausing.pause("default")
    paused = enqueue_committed("default", 3)

    # It took the first, saw the pause, put it back, and now waits for a resume.
    wait_for(lambda: redis.hget(f"rq:worker:{name}", "state") == b"paused", what="the pause")
    assert statuses(paused) == ["queued"] * 3
    assert django_rq.get_queue("default").get_job_ids() == [str(r.id) for r in paused]
    assert process.poll() is None

    pausing.resume("default")

    wait_for(lambda: statuses(paused) == ["finished"] * 3, what="the resumed jobs")
    assert django_rq.get_queue("default").count == 0
