"""The charts' figures: counted in the process, written to per-minute hashes in batches,
read back by any process."""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.conf import settings as django_settings
from redis.connection import Connection
from rq.utils import utcformat

from jobs import stats
from jobs.worker import Heartbeat, SimpleWorker
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_counts_from_earlier_tests(settings):
    """Counts another test left pending in this process are not this test's; and this
    test says itself when counts are due, so that no write depends on the clock."""
    settings.JOBS_STATS_FLUSH_SECONDS = 3600
    stats._pending.take()
    yield
    stats._pending.take()


@pytest.fixture
def stats_round_trips(monkeypatch):
    """The requests sent to Redis that touch the figures' hashes, a pipeline being one."""
    sent = []
    send = Connection.send_packed_command

    def counting(self, command, check_health=True):
        packed = command if isinstance(command, bytes) else b"".join(command)
        if stats.KEY.format("").encode() in packed:
            sent.append(packed)
        return send(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return sent


def bucket(redis):
    """This test's figures. Each test starts on an empty Redis and lasts under a minute,
    so they are in this minute's hash or, when the test crossed a minute boundary, partly
    in the one before: counts add up across the two, a sample is the later one."""
    now = stats._minute()
    figures = {}
    for minute in (now - 1, now):
        for name, value in redis.hgetall(stats.KEY.format(minute)).items():
            name, value = name.decode(), value.decode()
            if name in figures and not name.startswith(("depth:", "oldest:")):
                value = str(int(figures[name]) + int(value))
            figures[name] = value
    return figures


def test_an_ended_attempt_is_counted_by_outcome_with_its_wait_and_run(redis):
    stats.record(queue="high", kind="resize", outcome="finished", wait=0.004, run=1.5)
    stats.record(queue="high", kind="resize", outcome="retrying", wait=0.03, run=0.2)
    stats.record(queue="high", kind="resize", outcome="failed", wait=0.03, run=0.2)
    stats.record(queue="high", kind="resize", outcome="stopped", wait=None, run=None)

    stats.flush()

    assert bucket(redis) == {
        "done:high:resize": "1",
        "failed:high:resize": "3",
        "wait:resize:2": "1",  # 4 ms: in the bucket up to 5 ms
        "wait:resize:5": "2",  # 30 ms: up to 50 ms
        "run:resize:10": "1",  # 1.5 s: up to 2 s
        "run:resize:7": "2",  # 200 ms: up to 200 ms, its bound included
    }


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError, match="unknown outcome"):
        stats.record(queue="high", kind="resize", outcome="exploded")


def test_a_burst_of_jobs_costs_one_write_when_the_worker_stops(
    enqueue, run_jobs, redis, stats_round_trips
):
    for i in range(10):
        enqueue(tasks.succeed, i)
    for _ in range(3):
        enqueue(tasks.always_fail)

    run_jobs()  # a burst worker: it stops when the queues are empty

    assert len(stats_round_trips) == 1
    figures = bucket(redis)
    assert (figures["done:default:succeed"], figures["failed:default:always_fail"]) == ("10", "3")


def test_attempts_wait_in_the_process_until_the_next_flush(redis, stats_round_trips):
    for _ in range(20):
        stats.record(queue="low", kind="digest", outcome="finished", wait=0.1, run=0.1)
    assert stats_round_trips == []

    stats.flush()

    assert len(stats_round_trips) == 1
    assert bucket(redis)["done:low:digest"] == "20"


def test_once_the_last_write_is_older_than_the_setting_the_next_attempt_writes(
    settings, redis, stats_round_trips
):
    settings.JOBS_STATS_FLUSH_SECONDS = 0
    for _ in range(3):
        stats.record(queue="low", kind="digest", outcome="finished", wait=0.1, run=0.1)

    assert len(stats_round_trips) == 3
    assert bucket(redis)["done:low:digest"] == "3"


def test_a_flush_with_nothing_counted_sends_nothing(stats_round_trips):
    stats.flush()

    assert stats_round_trips == []


def test_each_minute_expires_a_little_over_a_day_after_its_last_write(redis):
    stats.record(queue="low", kind="digest", outcome="finished")
    stats.flush()

    ttl = redis.ttl(stats.KEY.format(stats._minute()))
    assert 24 * 3600 < ttl <= stats.BUCKET_TTL


def test_counts_a_failed_write_took_are_written_by_the_next_flush(redis, settings):
    stats.record(queue="low", kind="digest", outcome="finished")
    queues = settings.RQ_QUEUES
    settings.RQ_QUEUES = {
        name: {**config, "URL": "redis://127.0.0.1:1/0"} for name, config in queues.items()
    }
    stats.flush()  # Redis does not answer: logged, kept
    settings.RQ_QUEUES = queues

    stats.flush()

    assert bucket(redis)["done:low:digest"] == "1"


def test_an_idle_workers_heartbeat_writes_what_it_counted(redis, settings):
    settings.JOBS_WORKER_TTL = 1  # a beat every third of a second
    stats.record(queue="low", kind="digest", outcome="finished")
    heartbeat = Heartbeat("test-worker")
    heartbeat.start()
    try:
        deadline = time.monotonic() + 10
        while "done:low:digest" not in bucket(redis) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        heartbeat.stop()

    assert bucket(redis)["done:low:digest"] == "1"


def test_a_stopping_worker_writes_what_it_counted(redis):
    worker = SimpleWorker([django_rq.get_queue("default")], connection=redis)
    worker.register_birth()
    stats.record(queue="low", kind="digest", outcome="failed")

    worker.register_death()

    assert bucket(redis)["failed:low:digest"] == "1"


def test_percentiles_are_the_upper_bounds_of_their_buckets():
    histogram = {stats.bucket_index(0.004): 90, stats.bucket_index(1.5): 10}

    found = stats.percentiles(histogram)

    assert (found.count, found.p50, found.p95) == (100, 0.005, 2)


def test_a_percentile_above_the_last_bound_is_unbounded_and_none_without_data():
    assert stats.percentiles({stats.bucket_index(3600): 1}).p95 == float("inf")
    assert stats.percentiles({}) == stats.Percentiles(0, None, None)


def test_the_hour_has_a_point_a_minute_and_leaves_out_older_minutes(redis):
    now = time.time()
    minute = stats._minute(now)
    redis.hset(stats.KEY.format(minute), "done:high:resize", 2)
    redis.hset(stats.KEY.format(minute - 59), "done:high:resize", 3)
    redis.hset(stats.KEY.format(minute - 60), "done:high:resize", 100)  # over an hour ago

    read = stats.series("hour", at=now)

    assert len(read.starts) == 60
    assert read.starts[-1] == minute * 60
    counts = read.counts("done")
    assert (counts[0], counts[-1], sum(counts)) == (3, 2, 5)


def test_the_day_has_a_point_per_quarter_hour_read_from_the_quarters_hashes(redis):
    now = time.time()
    quarter = stats._minute(now) // 15
    redis.hset(stats.QUARTER_KEY.format(quarter), mapping={"failed:low:digest": 3})
    redis.hset(stats.QUARTER_KEY.format(quarter - 95), mapping={"failed:low:digest": 7})
    redis.hset(stats.QUARTER_KEY.format(quarter - 96), mapping={"failed:low:digest": 100})
    redis.hset(stats.QUARTER_KEY.format(quarter), mapping={"depth:low": 5, "oldest:low": 2.5})

    read = stats.series("day", at=now)

    assert (len(read.starts), read.minutes_per_point) == (96, 15)
    assert read.starts[-1] == quarter * 15 * 60
    counts = read.counts("failed", queue="low", kind="digest")
    assert (counts[-1], counts[0], sum(counts)) == (3, 7, 10)
    assert (read.depth["low"][-1], read.oldest["low"][-1]) == (5, 2.5)
    assert read.depth["low"][-2] is None  # no sample in that quarter hour


def test_an_attempt_counts_in_the_hour_and_in_the_day(redis):
    stats.record(queue="low", kind="digest", outcome="finished", wait=0.1, run=0.1)
    stats.flush()

    hour, day = stats.series("hour"), stats.series("day")

    assert (sum(hour.counts("done")), sum(day.counts("done"))) == (1, 1)
    quarters = redis.keys(stats.QUARTER_KEY.format("*"))
    assert len(quarters) == 1
    assert 24 * 3600 < redis.ttl(quarters[0]) <= stats.BUCKET_TTL


def test_a_window_merges_its_minutes_histograms_per_kind(redis):
    for _ in range(18):
        stats.record(queue="high", kind="resize", outcome="finished", wait=0.001, run=0.08)
    for _ in range(2):
        stats.record(queue="high", kind="resize", outcome="finished", wait=40, run=0.08)
    stats.record(queue="low", kind="digest", outcome="finished", wait=None, run=None)

    found = stats.latency("hour")

    assert found["resize"]["wait"] == stats.Percentiles(20, 0.001, 60)
    assert found["resize"]["run"] == stats.Percentiles(20, 0.1, 0.1)
    assert found["digest"]["run"] == stats.Percentiles(0, None, None)


def test_queue_samples_are_depth_and_the_oldest_wait_at_the_queues_head(redis, enqueue):
    records = [enqueue(tasks.succeed, i, queue="low") for i in range(3)]
    job_key = django_rq.get_queue("low").fetch_job(str(records[1].id)).key
    long_ago = datetime.now(UTC) - timedelta(seconds=90)
    redis.hset(job_key, "enqueued_at", utcformat(long_ago))

    stats.sample_queues()

    figures = bucket(redis)
    assert (figures["depth:low"], figures["depth:high"], figures["oldest:high"]) == ("3", "0", "0")
    assert 90 <= float(figures["oldest:low"]) < 3600


def test_figures_outlive_the_process_that_wrote_them_and_add_up_across_processes(
    redis, redis_server
):
    stats.record(queue="default", kind="succeed", outcome="finished", wait=0.01, run=0.01)
    stats.flush()
    script = (
        "import json, django; django.setup(); from jobs import stats; "
        "stats.record(queue='default', kind='succeed', outcome='finished', wait=5, run=5); "
        "stats.flush(); read = stats.series('hour'); "
        "print(json.dumps([sum(read.counts('done')), read.latency('succeed')['run'].count]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": redis_server.url,
        "DATABASE_URL": "sqlite:///:memory:",
    }

    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )

    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [2, 2]
    assert sum(stats.series("hour").counts("done")) == 2
