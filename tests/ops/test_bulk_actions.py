"""Requeue and delete of many failed jobs: a declared background job that works through
the failed sets a batch at a time, reports its progress, and returns what it did."""

import os
import subprocess
import sys
import uuid

import django_rq
import pytest
from django.urls import reverse

from jobs.models import JobRecord
from jobs.ops import services
from jobs.ops.tasks import delete_failed_jobs, jobs_bulk_action, requeue_failed_jobs
from tests.jobs import tasks
from tests.ops.conftest import failed_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_failed(enqueue, run_jobs):
    records = [enqueue(tasks.always_fail) for _ in range(5)]
    run_jobs()
    return records


@pytest.fixture
def progress(monkeypatch):
    """What the service reports, as (percent, stage): outside a worker report_progress
    has no row to write to."""
    reported = []
    monkeypatch.setattr(services, "report_progress", lambda *args: reported.append(args))
    return reported


@pytest.fixture
def batches(monkeypatch):
    """The size of each batch the service reads from Redis."""
    sizes = []
    read = services.failed_jobs_read

    def spy(queue_name, job_ids):
        sizes.append(len(job_ids))
        return read(queue_name, job_ids)

    monkeypatch.setattr(services, "failed_jobs_read", spy)
    return sizes


def vanish(count):
    """Ids left in the failed set without their jobs: a requeue cannot run them."""
    registry = django_rq.get_queue("default").failed_job_registry
    ids = [f"vanished-{index:02}" for index in range(count)]
    registry.connection.zadd(registry.key, dict.fromkeys(ids, 9_999_999_999))
    return ids


def test_it_works_through_the_failed_set_in_batches_and_reports_each(
    five_failed, progress, batches
):
    result = services.failed_jobs_delete(batch_size=2)

    assert result == {"total": 5, "done": 5, "errors": []}
    assert batches == [2, 2, 1]
    assert progress == [
        (0, "Deleted 0 of 5"),
        (40, "Deleted 2 of 5"),
        (80, "Deleted 4 of 5"),
        (100, "Deleted 5 of 5"),
    ]
    assert failed_ids() == []


def test_it_keeps_the_first_twenty_errors_and_counts_the_rest(progress):
    vanish(25)

    result = services.failed_jobs_requeue(batch_size=10)

    assert (result["total"], result["done"], len(result["errors"])) == (25, 0, 20)
    assert result["errors"][0] == (
        "vanished-00: Its data is gone from Redis. It can only be deleted."
    )
    assert progress[-1] == (100, "Requeued 0 of 25")


def test_a_selected_job_that_left_the_failed_set_meanwhile_is_reported(
    five_failed, failed_record, progress
):
    gone = five_failed[0]
    services.failed_job_delete(queue_name="default", job_id=str(gone.id))

    refs = [("default", str(gone.id)), ("default", str(failed_record.id))]
    result = services.failed_jobs_requeue(refs=refs)

    assert result == {
        "total": 2,
        "done": 1,
        "errors": [f"{gone.id}: It is no longer in the failed set."],
    }
    failed_record.refresh_from_db()
    assert failed_record.status == "queued"


def test_the_declared_job_reports_progress_on_its_own_row(
    five_failed, enqueue, run_jobs, staff, monkeypatch
):
    seen = []
    progressed = services.report_progress

    def watch(percent, stage=""):
        progressed(percent, stage)
        row = JobRecord.objects.get(kind=delete_failed_jobs.name)
        seen.append((row.status, row.progress, row.stage))

    monkeypatch.setattr(services, "report_progress", watch)
    monkeypatch.setattr(services, "BATCH_SIZE", 2)

    bulk = enqueue(delete_failed_jobs, owner=staff)
    run_jobs()

    assert seen == [
        ("started", 0, "Deleted 0 of 5"),
        ("started", 40, "Deleted 2 of 5"),
        ("started", 80, "Deleted 4 of 5"),
        ("started", 100, "Deleted 5 of 5"),
    ]
    bulk.refresh_from_db()
    assert (bulk.status, bulk.result["done"], bulk.queue) == ("finished", 5, "default")


def test_the_page_of_a_finished_bulk_job_lists_its_errors_and_counts_the_rest(staff_client, staff):
    errors = [f"job-{index}: It is no longer in the failed set." for index in range(20)]
    bulk = JobRecord.objects.create(
        kind=requeue_failed_jobs.name,
        func=requeue_failed_jobs.module_path,
        owner=staff,
        status="finished",
        result={"total": 30, "done": 5, "errors": errors},
    )

    page = staff_client.get(reverse("ops:bulk", args=[bulk.id])).content.decode()
    panel = staff_client.get(reverse("ops:bulk-panel", args=[bulk.id])).content.decode()

    assert "Requeued 5 of 30 jobs" in page and "Requeued 5 of 30 jobs" in panel
    assert "job-19: It is no longer in the failed set." in page
    assert "and 5 more that could not be requeued" in page
    assert reverse("ops:bulk-panel", args=[bulk.id]) in page  # what ops.js fetches again


def test_the_bulk_page_shows_only_bulk_jobs_and_only_to_staff(
    client, staff_client, alice, failed_record
):
    bulk = JobRecord.objects.create(
        kind=delete_failed_jobs.name, func=delete_failed_jobs.module_path, owner=alice
    )
    assert staff_client.get(reverse("ops:bulk", args=[failed_record.id])).status_code == 404
    assert staff_client.get(reverse("ops:bulk", args=[uuid.uuid4()])).status_code == 404
    assert staff_client.get(reverse("ops:bulk", args=[bulk.id])).status_code == 200

    client.force_login(alice)
    assert client.get(reverse("ops:bulk", args=[bulk.id])).status_code == 403


def test_one_job_is_still_requeued_within_the_request(staff_client, failed_record):
    response = staff_client.post(
        reverse("ops:failed-requeue", args=["default", failed_record.id]), follow=True
    )

    assert "Requeued 1 job." in response.content.decode()
    assert not JobRecord.objects.filter(kind=requeue_failed_jobs.name).exists()
    failed_record.refresh_from_db()
    assert failed_record.status == "queued"


def test_the_bulk_jobs_are_discovered_at_start_up():
    # A fresh process, so that nothing but jobs.apps' autodiscovery imports the tasks.
    script = (
        "import django; django.setup(); import sys; from jobs.base import registry; "
        "print('jobs.ops.tasks' in sys.modules, sorted(p for p in registry if '.ops.' in p))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
    ).stdout

    expected = sorted(
        task.module_path for task in (requeue_failed_jobs, delete_failed_jobs, jobs_bulk_action)
    )
    assert out.strip() == f"True {expected}"
