"""Staff hear once when a job has failed for good: not on retries, not twice."""

import django_rq
import pytest
from django.core import mail
from django.test import override_settings

from jobs import states
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admins(settings):
    settings.ADMINS = [("Staff", "ops@example.com")]
    settings.JOB_RETRY_BASE_SECONDS = 0


def test_the_last_failed_attempt_mails_the_admins_once(enqueue, run_jobs, alice, log_lines):
    record = enqueue(tasks.always_fail, owner=alice, retries=2)

    run_jobs()

    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert f"always_fail {record.id}" in message.subject
    assert "after 3 of 3 attempts" in message.body
    assert "Flaky: the downstream service is down" in message.body
    assert "Owner: alice" in message.body
    assert f"/ops/failed/default/{record.id}/" in message.body
    [alert] = [line for line in log_lines if line.startswith("job alert")]
    assert f"id={record.id} kind=always_fail" in alert
    assert "attempts=3/3" in alert


def test_retried_attempts_do_not_alert(enqueue, run_jobs):
    record = enqueue(tasks.fail_times, "alerts-flaky", 2, retries=3)

    run_jobs()

    record.refresh_from_db()
    assert (record.status, record.attempts) == ("finished", 3)
    assert mail.outbox == []


def test_a_duplicate_delivery_of_a_failed_job_does_not_alert_again(enqueue, run_jobs):
    record = enqueue(tasks.always_fail)
    run_jobs()
    assert len(mail.outbox) == 1

    # A sweeper, or a retry racing a requeue, delivers the same job again.
    django_rq.get_queue("default").enqueue_call(
        "tests.jobs.tasks.always_fail", job_id=str(record.id)
    )
    run_jobs()

    assert len(mail.outbox) == 1


def test_a_stale_attempt_failing_after_the_job_failed_does_not_alert_again(enqueue):
    record = enqueue(tasks.always_fail)
    attempt = states.started(record.id, worker="worker-1")

    for _ in range(2):
        states.failed(attempt, error="Flaky: down")

    assert len(mail.outbox) == 1


def test_a_requeued_job_that_fails_again_alerts_again(staff, client, enqueue, run_jobs):
    record = enqueue(tasks.always_fail)
    run_jobs()
    client.force_login(staff)

    client.post(f"/ops/failed/default/{record.id}/requeue/")
    run_jobs()

    assert len(mail.outbox) == 2


@override_settings(ADMINS=[])
def test_without_admins_the_log_line_still_tells(enqueue, run_jobs, log_lines):
    record = enqueue(tasks.always_fail)

    run_jobs()

    assert mail.outbox == []
    assert [line for line in log_lines if line.startswith("job alert ")] == [
        f"job alert id={record.id} kind=always_fail queue=default attempts=1/1 "
        "error='Flaky: the downstream service is down'"
    ]
