"""Redis restarted, wiped, or down while people sign up: the rows bring every job back."""

import time

import pytest

from jobs.models import JobRecord
from tests.chaos.harness import (
    WebClient,
    assert_every_email_arrived_once,
    duplicates,
    finished_count,
    recovered_rows,
    report,
    submit_deliveries,
    wait_until,
    wait_until_finished,
)
from tests.chaos.tasks import recipient

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

BATCH = 150
RESTART_OUTAGE = 2  # seconds without Redis: what a supervised restart takes
SIGNUPS = 12
SIGNUP_RETRIES = 5  # accounts.tasks.WELCOME_RETRIES


def repushed(stack, records):
    ids = {str(record.pk) for record in records}
    return {job_id for action, job_id in stack.sweeper_actions() if action == "repushed"} & ids


def test_restarting_redis_mid_batch_loses_nothing(stack):
    deployment = stack(workers=2)
    records = submit_deliveries(BATCH)
    wait_until(lambda: finished_count(records) >= BATCH // 5, timeout=30)

    deployment.kill_redis()  # kill -9: no shutdown, only what the AOF already holds
    time.sleep(RESTART_OUTAGE)  # the outage itself
    deployment.restart_redis()  # same port, same directory: it replays its AOF
    back_at = time.monotonic()

    wait_until_finished(records)
    seconds_to_recover = time.monotonic() - back_at
    received = assert_every_email_arrived_once(deployment, [recipient(r.args[0]) for r in records])
    report(
        "c_restart_redis",
        jobs=len(records),
        completed=finished_count(records),
        recovered=recovered_rows(records, deployment),
        repushed=len(repushed(deployment, records)),
        repush_reasons=deployment.repush_reasons(),
        seconds_to_recover=round(seconds_to_recover, 2),
        duplicates=duplicates(received),
        emails=len(received),
        worker_restarts=deployment.restarts,
    )


def test_flushing_redis_mid_batch_loses_nothing(stack):
    deployment = stack(workers=2)
    records = submit_deliveries(BATCH)
    wait_until(lambda: finished_count(records) >= BATCH // 5, timeout=30)

    deployment.redis.flushall()  # ours: a private redis-server this test started
    flushed_at = time.monotonic()
    left_in_the_queue = len(records) - finished_count(records)

    wait_until_finished(records)
    seconds_to_recover = time.monotonic() - flushed_at
    received = assert_every_email_arrived_once(deployment, [recipient(r.args[0]) for r in records])
    # The queue was empty after the flush: only the sweeper, reading the rows, could have
    # put those jobs back.
    assert repushed(deployment, records), deployment.sweeper.tail()
    report(
        "d_flush_redis",
        jobs=len(records),
        completed=finished_count(records),
        left_in_the_queue=left_in_the_queue,
        recovered=recovered_rows(records, deployment),
        repushed=len(repushed(deployment, records)),
        repush_reasons=deployment.repush_reasons(),
        seconds_to_recover=round(seconds_to_recover, 2),
        duplicates=duplicates(received),
        emails=len(received),
        worker_restarts=deployment.restarts,
    )


def test_signups_while_redis_is_down_get_their_welcome_email_once_it_is_back(stack):
    deployment = stack(workers=2, web=True)
    deployment.kill_redis()
    down_at = time.monotonic()

    people = []
    for number in range(SIGNUPS):
        client = WebClient(f"http://127.0.0.1:{deployment.web_port}")
        email = f"signup-{number}@example.com"
        # The form answers as if nothing were wrong: the job page of the welcome email.
        job_id = client.signup(f"signup{number}", email, "correct horse battery staple")
        people.append((client, email, job_id))
    ids = [job_id for _, _, job_id in people]
    rows = JobRecord.objects.filter(pk__in=ids)
    assert rows.filter(status="pending").count() == SIGNUPS  # recorded, not in Redis

    deployment.restart_redis()
    back_at = time.monotonic()
    # Nobody touches anything now: the sweeper pushes the pending rows, workers run them.
    wait_until(
        lambda: rows.filter(status="finished").count() == SIGNUPS,
        timeout=90,
        message=lambda: list(rows.values_list("status", "attempts", "stage")),
        interval=0.2,
    )
    seconds_to_recover = time.monotonic() - back_at

    received = assert_every_email_arrived_once(deployment, [email for _, email, _ in people])
    # Each person's own status page, from the web server, says so too.
    for client, _, job_id in people:
        assert client.get_json(f"/jobs/{job_id}.json")["status"] == "finished"
    pushed = {job_id for action, job_id in deployment.sweeper_actions() if action == "pushed"}
    assert set(ids) <= pushed
    report(
        "e_redis_down_during_signups",
        jobs=SIGNUPS,
        completed=rows.filter(status="finished").count(),
        recovered=len(set(ids) & pushed),
        seconds_down=round(back_at - down_at, 2),
        seconds_to_recover=round(seconds_to_recover, 2),
        duplicates=duplicates(received),
        emails=len(received),
        worker_restarts=deployment.restarts,
    )
