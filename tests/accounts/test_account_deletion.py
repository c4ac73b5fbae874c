"""A cancellable delayed job: "Delete my account" waits ACCOUNT_DELETION_GRACE_SECONDS."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from accounts import tasks
from accounts.services import account_delete
from jobs.models import JobRecord
from tests.factories import jpeg
from uploads.models import Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def ask_deletion(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)

    def post(url="/accounts/delete/"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url)

    return post


def deletion_of(user):
    return JobRecord.objects.get(kind="delete_account", owner=user)


def test_delete_waits_in_rqs_scheduled_registry_for_the_grace_period(
    ask_deletion, alice, redis, settings, client
):
    response = ask_deletion()

    assert response["Location"] == "/accounts/profile/"
    record = deletion_of(alice)
    assert record.status == "scheduled"
    due = ScheduledJobRegistry("default", connection=redis).get_scheduled_time(str(record.id))
    expected = timezone.now() + timedelta(seconds=settings.ACCOUNT_DELETION_GRACE_SECONDS)
    assert abs((due - expected).total_seconds()) < 5
    page = client.get("/accounts/profile/").content.decode()
    assert f'href="/jobs/{record.id}/"' in page
    assert f'<time datetime="{record.run_at.isoformat()}"' in page
    assert "Cancel deletion" in page


def test_the_grace_period_is_a_setting(ask_deletion, alice, redis, settings):
    settings.ACCOUNT_DELETION_GRACE_SECONDS = 90
    ask_deletion()

    record = deletion_of(alice)
    assert abs((record.run_at - timezone.now()).total_seconds() - 90) < 5


def test_asking_twice_schedules_one_deletion(ask_deletion, alice, redis):
    ask_deletion()
    ask_deletion()

    record = deletion_of(alice)  # .get(): exactly one
    assert ScheduledJobRegistry("default", connection=redis).get_job_ids() == [str(record.id)]


def test_it_does_not_run_before_its_time(ask_deletion, alice, run_jobs):
    ask_deletion()
    run_jobs(with_scheduler=True)

    assert get_user_model().objects.filter(pk=alice.pk).exists()
    assert deletion_of(alice).status == "scheduled"


def test_after_the_grace_period_the_account_and_its_photos_files_are_gone(
    client, alice, run_jobs, fast_forward, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from uploads.storage import photo_storage, published_key

    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/photos/upload/", {"images": [SimpleUploadedFile("a.jpg", jpeg())]})
    run_jobs()
    photo = Photo.objects.get(owner=alice)
    assert photo.variants
    keys = [published_key(photo, name) for name in photo.variants]
    assert all(photo_storage().exists(key) for key in keys)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/delete/")
    record_id = deletion_of(alice).id
    fast_forward()
    run_jobs(with_scheduler=True)

    assert not get_user_model().objects.filter(pk=alice.pk).exists()
    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert not JobRecord.objects.filter(pk=record_id).exists()  # cascaded with its owner
    assert not any(photo_storage().exists(key) for key in keys)


def test_cancel_removes_the_job_from_rqs_scheduled_registry_and_keeps_the_account(
    ask_deletion, alice, redis, run_jobs, fast_forward, client
):
    ask_deletion()
    record = deletion_of(alice)
    registry = ScheduledJobRegistry("default", connection=redis)
    assert str(record.id) in registry.get_job_ids()

    response = ask_deletion("/accounts/delete/cancel/")

    assert response["Location"] == "/accounts/profile/"
    assert str(record.id) not in registry.get_job_ids()
    record.refresh_from_db()
    assert record.status == "canceled"
    fast_forward()
    run_jobs(with_scheduler=True)
    assert get_user_model().objects.filter(pk=alice.pk).exists()
    assert "Cancel deletion" not in client.get("/accounts/profile/").content.decode()


def test_a_deletion_canceled_while_it_was_being_picked_up_deletes_nothing(ask_deletion, alice):
    """The job checks its own row: a canceled row stops it even if RQ ran it anyway."""
    ask_deletion()
    record = deletion_of(alice)
    JobRecord.objects.filter(pk=record.pk).update(status="canceled")
    from jobs import tracking

    tracking._running.record = record
    try:
        result = account_delete(user_id=alice.pk)
    finally:
        tracking._running.record = None

    assert result == {"deleted": False, "reason": "canceled"}
    assert get_user_model().objects.filter(pk=alice.pk).exists()


def test_cancel_and_delete_need_a_post(client, alice):
    client.force_login(alice)

    assert client.get("/accounts/delete/").status_code == 405
    assert client.get("/accounts/delete/cancel/").status_code == 405
    assert tasks.delete_account.queue == "default"
