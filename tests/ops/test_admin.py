"""The Django admin for job records: filters, search, requeue and cancel through the
services, and a way to django-rq's dashboard."""

import pytest
from django.urls import reverse

from jobs.models import JobRecord
from tests.jobs import tasks

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:jobs_jobrecord_changelist")


@pytest.fixture
def admin(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    return client


def listed(response):
    return set(response.context["cl"].result_list)


def test_it_filters_by_kind_status_and_queue(admin, alice):
    match = JobRecord.objects.create(kind="export", func="x.y", status="failed", queue="low")
    JobRecord.objects.create(kind="export", func="x.y", status="finished", queue="low")
    JobRecord.objects.create(kind="email", func="x.y", status="failed", queue="low")
    JobRecord.objects.create(kind="export", func="x.y", status="failed", queue="high")

    response = admin.get(CHANGELIST, {"kind": "export", "status": "failed", "queue": "low"})

    assert listed(response) == {match}


def test_it_finds_a_job_by_owner_or_by_id(admin, alice, bob):
    alices = JobRecord.objects.create(kind="export", func="x.y", owner=alice)
    bobs = JobRecord.objects.create(kind="export", func="x.y", owner=bob)

    assert listed(admin.get(CHANGELIST, {"q": "alice"})) == {alices}
    assert listed(admin.get(CHANGELIST, {"q": str(bobs.id)})) == {bobs}


def test_the_requeue_action_runs_failed_jobs_again(admin, failed_record, run_jobs):
    finished = JobRecord.objects.create(kind="export", func="x.y", status="finished")

    response = admin.post(
        CHANGELIST,
        {"action": "requeue", "_selected_action": [failed_record.pk, finished.pk]},
        follow=True,
    )

    assert "Requeued 1 of 2" in response.content.decode()
    failed_record.refresh_from_db()
    assert failed_record.status == "queued"
    run_jobs()
    failed_record.refresh_from_db()
    assert failed_record.status == "finished"


def test_the_cancel_action_cancels_waiting_jobs(admin, enqueue, run_jobs):
    waiting = enqueue(tasks.succeed, 1)

    admin.post(CHANGELIST, {"action": "cancel", "_selected_action": [waiting.pk]})
    run_jobs()

    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts, waiting.stage) == ("canceled", 0, "Canceled by staff")


def test_the_changelist_links_to_the_ops_pages_and_django_rq(admin):
    page = admin.get(CHANGELIST).content.decode()

    assert f'href="{reverse("django_rq:home")}"' in page
    assert f'href="{reverse("ops:failed")}"' in page
