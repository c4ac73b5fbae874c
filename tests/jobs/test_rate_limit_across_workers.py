"""The email limit holds across worker processes, as BullMQ's limiter does across workers."""

import time

import django_rq
import pytest
from rq import Worker

from jobs.models import JobRecord
from jobs.services import job_enqueue

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT, WINDOW = 3, 2


def test_two_workers_never_send_more_than_the_limit_in_any_window(
    worker_process, smtp_server, redis
):
    env = {
        "EMAIL_RATE_LIMIT": str(LIMIT),
        "EMAIL_RATE_WINDOW_SECONDS": str(WINDOW),
        "EMAIL_URL": smtp_server.url,
    }
    worker_process(extra_env=env)
    worker_process(extra_env=env)
    records = [
        job_enqueue(func="tests.jobs.tasks.send_one_email", kind="send_one_email", args=[i])
        for i in range(9)
    ]

    deadline = time.monotonic() + 60
    while JobRecord.objects.filter(status="finished").count() < len(records):
        assert time.monotonic() < deadline, list(JobRecord.objects.values_list("status", "stage"))
        time.sleep(0.2)

    assert Worker.count(connection=django_rq.get_connection("default")) == 2
    sent = sorted(arrived for arrived, _ in smtp_server.received)
    assert len(sent) == 9
    # Any LIMIT + 1 consecutive sends span at least one window (a little slack for SMTP).
    spans = [sent[i + LIMIT] - sent[i] for i in range(len(sent) - LIMIT)]
    assert min(spans) >= WINDOW - 0.1, spans
    assert not JobRecord.objects.filter(status="failed").exists()
    assert JobRecord.objects.filter(attempts=1).count() == 9  # waiting for a slot is no attempt
