"""Real worker processes, started as the Procfile starts them: heartbeats, a work horse
that dies with its worker, and one effect when two workers take the same job at once."""

import os
import signal
import time

import django_rq
import pytest
from django.db import transaction

from jobs.models import IdempotencyKey, JobRecord
from jobs.services import job_enqueue
from jobs.worker import heartbeat_key
from tests.polling import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_work_horse_and_the_scheduler_die_when_their_worker_is_killed(worker_process, redis):
    with transaction.atomic():
        record = job_enqueue(func="tests.jobs.tasks.sleep_then_succeed", kind="nap", args=[60])
    worker = worker_process("default", extra_env={"JOBS_WORKER_TTL": "3"})
    wait_for(lambda: JobRecord.objects.get(pk=record.pk).status == "started", what="the job")
    # The work horse and the scheduler process (--with-scheduler).
    children = wait_for(lambda: len(children_of(worker.pid)) == 2 and children_of(worker.pid))

    worker.send_signal(signal.SIGKILL)  # the worker alone, as `kill -9 <pid>` does

    for child in children:
        wait_for(lambda pid=child: not alive(pid), timeout=5, what=f"child {child} to die")
    worker.wait()
    name = JobRecord.objects.get(pk=record.pk).worker
    wait_for(lambda: not redis.exists(heartbeat_key(name)), timeout=10, what="the heartbeat")


def test_two_workers_taking_the_same_job_at_once_send_one_email(worker_process, settings):
    with transaction.atomic():
        record = job_enqueue(
            func="tests.jobs.tasks.claim_then_sleep", kind="email", args=["same-job", 1]
        )
    # The same id twice in the queue: a push whose reply was lost and that was retried.
    queue = django_rq.get_queue("default")
    queue.connection.rpush(queue.key, str(record.id))
    workers = [worker_process("default") for _ in range(2)]

    wait_for(lambda: JobRecord.objects.get(pk=record.pk).status == "finished", what="the job")
    wait_for(lambda: queue.count == 0, what="the duplicate to be taken")
    time.sleep(1.5)  # long enough for a second run's sleep to end, had one started

    record.refresh_from_db()
    assert record.attempts == 1
    assert IdempotencyKey.objects.get(key="claim:same-job").done_at is not None
    assert int(queue.connection.get("test:claims:same-job")) == 1
    assert all(worker.poll() is None for worker in workers)
