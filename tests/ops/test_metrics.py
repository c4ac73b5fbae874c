"""/metrics in Prometheus' text format: queue depths, oldest waits, and per-kind counts
and durations from the job records."""

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import JobRecord
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"

    def get():
        response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert response.status_code == 200
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return get


def sample(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_it_reports_queue_depth_per_queue_and_status(scrape, enqueue, run_jobs):
    enqueue(tasks.always_fail, queue="high")
    run_jobs()
    enqueue(tasks.succeed, 1)
    enqueue(tasks.succeed, 2)
    enqueue(tasks.succeed, 3, delay=timedelta(hours=1))

    samples = scrape()

    assert sample(samples, "jobs_queue_jobs", queue="default", status="queued") == 2
    assert sample(samples, "jobs_queue_jobs", queue="default", status="scheduled") == 1
    assert sample(samples, "jobs_queue_jobs", queue="high", status="failed") == 1
    assert sample(samples, "jobs_queue_jobs", queue="low", status="queued") == 0
    assert sample(samples, "jobs_redis_up") == 1
    assert sample(samples, "jobs_workers") == 0


def test_it_reports_how_long_the_oldest_job_has_waited(scrape, enqueue):
    record = enqueue(tasks.succeed, 1)
    job = django_rq.get_queue("default").fetch_job(str(record.id))
    job.enqueued_at = timezone.now() - timedelta(minutes=5)
    job.save()

    samples = scrape()

    assert 300 <= sample(samples, "jobs_queue_oldest_waiting_seconds", queue="default") < 330
    assert sample(samples, "jobs_queue_oldest_waiting_seconds", queue="high") == 0


def test_it_counts_finished_and_failed_jobs_per_kind(scrape, enqueue, run_jobs):
    enqueue(tasks.fail_times, "metrics-1", 0)
    enqueue(tasks.fail_times, "metrics-2", 0)
    enqueue(tasks.fail_times, "metrics-3", 1)  # fails its only attempt
    enqueue(tasks.always_fail)
    run_jobs()

    samples = scrape()

    assert sample(samples, "jobs_finished_total", kind="fail_times") == 2
    assert sample(samples, "jobs_failed_total", kind="fail_times") == 1
    assert sample(samples, "jobs_finished_total", kind="always_fail") == 0
    assert sample(samples, "jobs_failed_total", kind="always_fail") == 1


def test_it_summarises_the_duration_of_finished_jobs_per_kind(scrape):
    now = timezone.now()
    for seconds in (2, 4):
        JobRecord.objects.create(
            kind="resize",
            func="x.y",
            status="finished",
            started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )
    JobRecord.objects.create(
        kind="resize", func="x.y", status="failed", started_at=now - timedelta(hours=1)
    )

    samples = scrape()

    assert sample(samples, "jobs_duration_seconds_count", kind="resize") == 2
    assert sample(samples, "jobs_duration_seconds_sum", kind="resize") == pytest.approx(6)


def test_without_redis_it_still_answers_with_the_records(scrape, settings):
    dead = "redis://127.0.0.1:1/0?socket_connect_timeout=0.2&socket_timeout=0.2"
    settings.RQ_QUEUES = {name: {**c, "URL": dead} for name, c in settings.RQ_QUEUES.items()}
    JobRecord.objects.create(kind="resize", func="x.y", status="finished")

    samples = scrape()

    assert sample(samples, "jobs_redis_up") == 0
    assert sample(samples, "jobs_finished_total", kind="resize") == 1
