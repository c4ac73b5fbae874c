"""What the worker skips to stay fast, and that each saving keeps its promise."""

import time

import django_rq
import pytest

from jobs import connections
from jobs.worker import SimpleWorker
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def test_one_redis_client_serves_every_call_for_the_same_settings(settings):
    first = connections.get_connection("default")

    assert connections.get_connection("default") is first
    assert connections.get_queue("low").connection is connections.get_connection("low")

    settings.RQ_QUEUES = {
        name: {**config, "URL": "redis://127.0.0.1:1/0"}
        for name, config in settings.RQ_QUEUES.items()
    }
    moved = connections.get_connection("default")
    assert moved is not first
    assert moved.connection_pool.connection_kwargs["port"] == 1


def test_redis_replies_are_parsed_in_c_by_hiredis():
    connection = connections.get_connection("default").connection_pool.get_connection()
    try:
        assert type(connection._parser).__name__ == "_HiredisParser"
    finally:
        connections.get_connection("default").connection_pool.release(connection)


def test_rqs_own_heartbeat_goes_out_at_most_once_a_second(redis):
    worker = SimpleWorker([django_rq.get_queue("default")], connection=redis)
    worker.register_birth()
    try:
        worker.heartbeat()
        sent = redis.hget(worker.key, "last_heartbeat")
        time.sleep(0.01)
        worker.heartbeat()  # right after the last one: skipped
        assert redis.hget(worker.key, "last_heartbeat") == sent

        worker._rq_heartbeat_at -= 1.0  # a second later
        worker.heartbeat()
        assert redis.hget(worker.key, "last_heartbeat") != sent
    finally:
        worker.register_death()


def test_a_heartbeat_inside_rqs_pipeline_always_goes_through(redis):
    worker = SimpleWorker([django_rq.get_queue("default")], connection=redis)
    worker.register_birth()
    try:
        worker.heartbeat()
        sent = redis.hget(worker.key, "last_heartbeat")
        time.sleep(0.01)
        with redis.pipeline() as pipeline:
            worker.heartbeat(600, pipeline=pipeline)
            pipeline.execute()
        assert redis.hget(worker.key, "last_heartbeat") != sent
        assert redis.ttl(worker.key) > 500
    finally:
        worker.register_death()


def test_a_finished_job_leaves_redis_and_keeps_its_result_on_the_row(enqueue, run_jobs):
    record = enqueue(tasks.succeed, 5)

    run_jobs()

    record.refresh_from_db()
    assert (record.status, record.result) == ("finished", {"value": 5})
    assert django_rq.get_queue("default").fetch_job(str(record.id)) is None


def test_a_job_that_declares_keep_result_stays_in_redis(enqueue, run_jobs):
    record = enqueue(tasks.succeed, 5, keep_result=3600)

    run_jobs()

    job = django_rq.get_queue("default").fetch_job(str(record.id))
    assert (job.get_status(), job.result_ttl) == ("finished", 3600)
