"""The recovery sweeper, one pass at a time, called directly. tests/chaos/ runs it for real."""

from datetime import timedelta

import django_rq
import pytest
from django.core import mail
from django.utils import timezone
from rq.job import Job

from jobs import states
from jobs.models import JobRecord
from jobs.sweeper import LOCK_KEY, last_report, sweep
from jobs.worker import heartbeat_key
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def age(record, seconds=60):
    """Make a row look as if it had been left alone for a while."""
    then = timezone.now() - timedelta(seconds=seconds)
    JobRecord.objects.filter(pk=record.pk).update(
        updated_at=then, enqueued_at=then, started_at=then
    )


def in_redis(record):
    return django_rq.get_queue(record.queue).connection.exists(Job.key_for(str(record.id)))


def test_it_pushes_a_row_left_pending_while_redis_was_down(enqueue, run_jobs, settings):
    live = settings.RQ_QUEUES
    settings.RQ_QUEUES = {
        name: {**config, "URL": "redis://127.0.0.1:1/0?socket_connect_timeout=0.2"}
        for name, config in live.items()
    }
    record = enqueue(tasks.succeed, 1)
    settings.RQ_QUEUES = live
    assert record.status == "pending"
    age(record)

    assert sweep()["pushed_pending"] == 1
    run_jobs()

    record.refresh_from_db()
    assert record.status == "finished"


def test_it_leaves_a_fresh_pending_row_to_its_own_push(alice):
    record = JobRecord.objects.create(kind="export", func="tests.jobs.tasks.succeed", args=[1])

    sweep()

    record.refresh_from_db()
    assert record.status == "pending"
    assert not in_redis(record)


def test_it_pushes_again_a_queued_job_that_redis_lost(enqueue, run_jobs, redis):
    record = enqueue(tasks.succeed, 1)
    redis.flushdb()
    age(record)

    assert sweep()["repushed_lost"] == 1
    run_jobs()

    record.refresh_from_db()
    assert (record.status, record.attempts) == ("finished", 1)


def test_it_pushes_a_lost_delayed_job_back_to_its_schedule(enqueue, redis):
    record = enqueue(tasks.succeed, 1, delay=timedelta(hours=1))
    redis.flushdb()
    age(record)

    sweep()

    scheduled = django_rq.get_queue("default").scheduled_job_registry.get_job_ids()
    assert scheduled == [str(record.id)]


def test_a_job_whose_worker_died_is_retried(enqueue, run_jobs):
    record = enqueue(tasks.succeed, 1, retries=1)
    states.started(record.id, worker="killed-worker")  # no heartbeat: it is dead
    age(record)

    assert sweep()["recovered_abandoned"] == 1
    record.refresh_from_db()
    assert record.status == "queued"
    assert record.stage == "The worker running it stopped; retrying"
    run_jobs()

    record.refresh_from_db()
    assert (record.status, record.attempts) == ("finished", 2)


def test_a_job_whose_worker_died_on_its_last_attempt_fails_with_one_alert(enqueue, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    record = enqueue(tasks.succeed, 1)
    states.started(record.id, worker="killed-worker")
    age(record)

    sweep()
    sweep()

    record.refresh_from_db()
    assert (record.status, record.error) == ("failed", "The worker running it stopped")
    assert len(mail.outbox) == 1


def test_it_leaves_alone_a_job_its_live_worker_runs(enqueue, redis):
    record = enqueue(tasks.succeed, 1)
    states.started(record.id, worker="busy-worker")
    redis.set(heartbeat_key("busy-worker"), str(record.id), ex=30)
    age(record)

    assert sweep()["recovered_abandoned"] == 0

    record.refresh_from_db()
    assert record.status == "started"


def test_a_job_its_live_worker_no_longer_runs_was_dropped(enqueue, redis):
    # The worker is alive but idle: its work horse was killed (out of memory) mid-job.
    record = enqueue(tasks.succeed, 1, retries=1)
    states.started(record.id, worker="oom-worker")
    redis.set(heartbeat_key("oom-worker"), "-", ex=30)
    age(record)

    assert sweep()["recovered_abandoned"] == 1


def test_a_live_worker_gets_time_to_report_the_job_it_just_took(enqueue, redis):
    record = enqueue(tasks.succeed, 1, retries=1)
    states.started(record.id, worker="fresh-worker")
    redis.set(heartbeat_key("fresh-worker"), "-", ex=30)  # its heartbeat is a beat behind

    assert sweep()["recovered_abandoned"] == 0


def test_it_fails_a_waiting_job_whose_function_cannot_be_imported(ghost_record):
    record = ghost_record

    assert sweep()["failed_unimportable"] == 1

    record.refresh_from_db()
    assert record.status == "failed"
    assert "No module named 'nonexistent'" in record.error


def test_it_releases_a_step_whose_parent_finished_while_redis_missed_it(enqueue, run_jobs):
    parent = enqueue(tasks.succeed, 1)
    child = enqueue(tasks.succeed, 2, after=parent)
    # The parent's row finished, but RQ never heard (its copy was pushed again, say).
    states.finished(states.started(parent.id, worker="w"), result={}, duration=0)
    JobRecord.objects.filter(pk=parent.pk).update(finished_at=timezone.now() - timedelta(minutes=1))
    django_rq.get_queue("default").connection.lrem("rq:queue:default", 0, str(parent.id))

    assert sweep()["released_deferred"] == 1
    run_jobs()

    child.refresh_from_db()
    assert child.status == "finished"


def test_it_cleans_rq_registries_so_an_abandoned_job_without_a_row_comes_back(redis):
    queue = django_rq.get_queue("default")
    job = queue.enqueue_call("tests.jobs.tasks.succeed", args=(1,))
    queue.connection.lpop(queue.key)
    job.set_status("started")
    queue.connection.zadd(queue.started_job_registry.key, {f"{job.id}:exec": 1})

    sweep()

    assert job.id in queue.failed_job_registry.get_job_ids()


def test_only_one_pass_runs_at_a_time(redis):
    redis.set(LOCK_KEY, "another host", ex=30)

    assert sweep() is None
    assert last_report() is None


def test_a_pass_is_idempotent(enqueue, redis):
    record = enqueue(tasks.succeed, 1)
    redis.flushdb()
    age(record)

    first, second = sweep(), sweep()

    assert (first["repushed_lost"], second["repushed_lost"]) == (1, 0)
    assert django_rq.get_queue("default").get_job_ids() == [str(record.id)]


def test_each_step_reads_a_bounded_batch(enqueue, redis, settings):
    settings.JOBS_SWEEP_BATCH = 2
    records = [enqueue(tasks.succeed, i) for i in range(5)]
    redis.flushdb()
    for record in records:
        age(record)

    passes = [sweep()["repushed_lost"] for _ in range(3)]

    assert passes == [2, 2, 1]
    assert len(django_rq.get_queue("default").get_job_ids()) == 5


def test_a_retry_whose_copy_is_still_running_on_a_dead_worker_is_pushed_again(enqueue, redis):
    # The attempt failed and the row waits for its retry, but Redis still says "started"
    # on a worker that died before it could tell Redis (or a failover lost what it said).
    record = enqueue(tasks.succeed, 1, retries=2)
    states.retrying(states.started(record.id, worker="dead"), error="Flaky: x", delay=2)
    redis.hset(Job.key_for(str(record.id)), mapping={"status": "started", "worker_name": "dead"})
    age(record)

    assert sweep()["repushed_lost"] == 1

    assert redis.hget(Job.key_for(str(record.id)), "status") == b"queued"


def test_a_job_taken_from_its_queue_by_a_worker_that_never_wrote_again_is_pushed_again(
    enqueue, redis
):
    record = enqueue(tasks.succeed, 1)
    queue = django_rq.get_queue("default")
    queue.connection.lrem(queue.key, 0, str(record.id))  # BLPOP'd by a worker cut off since
    age(record)

    assert sweep()["repushed_lost"] == 1

    assert queue.get_job_ids() == [str(record.id)]


def test_a_job_waiting_in_its_queue_is_left_where_it_is(enqueue, redis):
    record = enqueue(tasks.succeed, 1)
    age(record)

    assert sweep()["repushed_lost"] == 0


def test_due_delayed_jobs_move_to_their_queue_while_no_scheduler_runs(enqueue, fast_forward):
    record = enqueue(tasks.succeed, 1, delay=timedelta(minutes=5))
    fast_forward()

    assert sweep()["enqueued_due"] == 1

    assert django_rq.get_queue("default").get_job_ids() == [str(record.id)]


def test_a_live_scheduler_is_left_to_move_due_jobs_itself(enqueue, fast_forward, redis):
    from rq.scheduler import RQScheduler

    enqueue(tasks.succeed, 1, delay=timedelta(minutes=5))
    fast_forward()
    for name in ("high", "default", "low"):
        redis.set(RQScheduler.get_locking_key(name), "a worker's scheduler", ex=60)

    assert sweep()["enqueued_due"] == 0


def test_a_lock_this_sweeper_still_holds_after_a_redis_crash_does_not_hold_it_up(redis):
    from jobs.sweeper import LOCK_TOKEN

    redis.set(LOCK_KEY, LOCK_TOKEN, ex=60)  # brought back by the AOF, mid-pass

    assert sweep() is not None
    assert not redis.exists(LOCK_KEY)


def test_a_job_whose_worker_died_goes_back_to_the_head_of_its_queue(enqueue):
    record = enqueue(tasks.succeed, 1, retries=1)
    states.started(record.id, worker="killed-worker")
    age(record)
    waiting = [enqueue(tasks.succeed, i) for i in range(3)]

    sweep()

    queued = django_rq.get_queue("default").get_job_ids()
    assert queued == [str(record.id), *(str(job.id) for job in waiting)]
