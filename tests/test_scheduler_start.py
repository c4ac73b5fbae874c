"""The scheduler process starts, and moves a due cron entry on, without a FutureWarning."""

import os
import subprocess
import sys
import time

from django.conf import settings

from jobs.schedules import PREFIX, get_scheduler


def wait_for(condition, *, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_it_starts_and_reschedules_a_cron_entry_without_a_future_warning(
    redis, redis_server, tmp_path
):
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONWARNINGS",)}
    env.update(REDIS_URL=redis_server.url, DATA_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    log = tmp_path / "scheduler.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_scheduler", "--interval", "1"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        scheduler = get_scheduler()
        digest = PREFIX + "send_digests"
        assert wait_for(lambda: digest in {job.id for job in scheduler.get_jobs()})
        # Make the entry due now: the running scheduler enqueues it and computes its next
        # run, the second place rq-scheduler asks crontab for a time.
        redis.zadd(scheduler.scheduled_jobs_key, {digest: 0})
        assert wait_for(lambda: redis.zscore(scheduler.scheduled_jobs_key, digest) > 0)
    finally:
        process.terminate()
        process.wait(timeout=10)

    output = log.read_text()
    assert "scheduled periodic-send_digests" in output
    assert "FutureWarning" not in output
