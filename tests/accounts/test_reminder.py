"""The delayed job: "upload your first photo", a day after signup unless they did."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from accounts.services import user_signup
from jobs.models import JobRecord
from tests.factories import jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_up(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user, _ = user_signup(username="fay", email="fay@example.com", password="a long passphrase")
    return user


def test_signup_leaves_a_delayed_reminder_in_rqs_scheduled_registry(signed_up, redis, settings):
    reminder = JobRecord.objects.get(kind="send_first_photo_reminder")
    registry = ScheduledJobRegistry("high", connection=redis)

    assert reminder.status == "scheduled"
    due = registry.get_scheduled_time(str(reminder.id))
    expected = timezone.now() + timedelta(seconds=settings.FIRST_PHOTO_REMINDER_DELAY_SECONDS)
    assert abs((due - expected).total_seconds()) < 5


def test_the_reminder_does_not_run_before_its_time(signed_up, run_jobs):
    run_jobs(with_scheduler=True)

    assert JobRecord.objects.get(kind="send_first_photo_reminder").status == "scheduled"
    assert [m.subject for m in mail.outbox] == ["Welcome to the photo site"]


def test_the_reminder_fires_after_its_delay(signed_up, run_jobs, fast_forward):
    run_jobs()
    fast_forward()  # a day passes
    run_jobs(with_scheduler=True)

    assert JobRecord.objects.get(kind="send_first_photo_reminder").status == "finished"
    assert [m.subject for m in mail.outbox][-1] == "Your first photo is one click away"


def test_an_upload_makes_the_reminder_a_no_op(
    signed_up, client, run_jobs, fast_forward, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(signed_up)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/photos/upload/", {"images": [SimpleUploadedFile("a.jpg", jpeg())]})
    run_jobs()
    fast_forward()
    run_jobs(with_scheduler=True)

    reminder = JobRecord.objects.get(kind="send_first_photo_reminder")
    assert reminder.result == {"sent": False, "reason": "already uploaded a photo"}
    assert "Your first photo is one click away" not in [m.subject for m in mail.outbox]


def test_the_delay_is_a_setting(settings, django_capture_on_commit_callbacks):
    settings.FIRST_PHOTO_REMINDER_DELAY_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=True):
        user_signup(username="gus", email="gus@example.com", password="a long passphrase")

    reminder = JobRecord.objects.get(kind="send_first_photo_reminder")
    assert abs((reminder.run_at - timezone.now()).total_seconds() - 60) < 5
