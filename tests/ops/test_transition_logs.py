"""One key=value log line per job transition, so a log search follows a job by id."""

import pytest

from jobs.services import job_cancel, job_requeue
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def lines_about(log_lines, record):
    return [line for line in log_lines if f"id={record.id}" in line]


def test_a_job_that_finishes_logs_queued_started_finished(enqueue, run_jobs, log_lines):
    record = enqueue(tasks.succeed, 1)
    run_jobs()

    queued, started, finished = lines_about(log_lines, record)
    assert queued == f"job queued id={record.id} kind=succeed queue=default"
    assert started.startswith(f"job started id={record.id} kind=succeed attempt=1 worker=")
    assert finished.startswith(f"job finished id={record.id} kind=succeed attempt=1 duration=")


def test_a_failing_job_logs_retrying_failed_and_requeued(enqueue, run_jobs, log_lines, settings):
    settings.JOB_RETRY_BASE_SECONDS = 0
    record = enqueue(tasks.always_fail, retries=1)
    run_jobs()
    record.refresh_from_db()
    job_requeue(record=record)

    events = [line.split()[1] for line in lines_about(log_lines, record)]
    assert events == [
        "queued",
        "started",
        "retrying",
        "started",
        "failed",
        "alert",
        "requeued",
        "queued",
    ]
    failed = next(line for line in lines_about(log_lines, record) if line.startswith("job failed"))
    assert "attempt=2 duration=" in failed


def test_a_canceled_job_logs_canceled(enqueue, log_lines):
    record = enqueue(tasks.succeed, 1)

    job_cancel(record=record, reason="The photo was deleted")

    assert lines_about(log_lines, record)[-1] == (
        f"job canceled id={record.id} kind=succeed reason='The photo was deleted'"
    )
