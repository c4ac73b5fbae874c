"""People see a plain sentence about what went wrong and what happens next; staff see the
exception and its traceback on the ops pages."""

import pytest
from django.urls import reverse

from jobs.models import JobRecord
from jobs.selectors import job_public_error
from tests.factories import make_photo
from tests.jobs import tasks

pytestmark = pytest.mark.django_db

BOTO = (
    'EndpointConnectionError: Could not connect to the endpoint URL: "http://minio.internal'
    ':9000/photos-bucket/photos/1/thumb.jpg"'
)
SMTP = "SMTPDataError: (451, b'4.3.0 mx1.internal.example: queue full, try later')"
SECRETS = ("minio.internal", "photos-bucket", "mx1.internal.example", "Error:")


def job(owner, **fields):
    defaults = {"kind": "send_welcome_email", "func": "accounts.tasks.send_welcome_email"}
    return JobRecord.objects.create(owner=owner, **{**defaults, **fields})


def assert_nothing_internal(text):
    for secret in SECRETS:
        assert secret not in text


@pytest.fixture
def failed_for_good(alice):
    return job(alice, status="failed", error=BOTO, attempts=5, max_attempts=5)


@pytest.fixture
def retrying(alice):
    return job(alice, status="scheduled", error=SMTP, attempts=2, max_attempts=6)


def test_a_job_that_failed_for_good_says_so_and_that_it_stopped(failed_for_good):
    assert job_public_error(failed_for_good) == (
        "Something went wrong on our side, and we stopped trying after 5 attempts. "
        "Our staff can see what happened."
    )


def test_a_job_that_will_be_retried_says_so(retrying):
    assert job_public_error(retrying) == (
        "Something went wrong on our side (attempt 2 of 6). We will try again automatically."
    )


def test_a_job_without_an_error_has_no_sentence(alice):
    assert job_public_error(job(alice, status="finished")) == ""


def test_a_message_a_task_wrote_for_people_is_shown_as_it_is(alice):
    record = job(alice, status="failed", error="Permanent: This file is not an image.")

    assert job_public_error(record) == "This file is not an image."


@pytest.mark.parametrize("record", ["failed_for_good", "retrying"])
def test_the_job_page_and_its_json_show_the_sentence_not_the_exception(
    request, client, alice, record
):
    record = request.getfixturevalue(record)
    client.force_login(alice)

    page = client.get(reverse("jobs:detail", args=[record.id])).content.decode()
    data = client.get(reverse("jobs:status", args=[record.id])).json()

    assert job_public_error(record) in page
    assert data["error"] == job_public_error(record)
    assert_nothing_internal(page)
    assert_nothing_internal(str(data))
    record.refresh_from_db()
    assert record.error in (BOTO, SMTP)  # the row keeps it, for staff


def test_a_failed_photo_shows_the_sentence_on_its_page_and_json(client, alice, failed_for_good):
    photo = make_photo(alice, resize_job=failed_for_good)
    client.force_login(alice)

    page = client.get(reverse("uploads:detail", args=[photo.id])).content.decode()
    data = client.get(reverse("uploads:status", args=[photo.id])).json()

    assert data["status"] == "failed"
    assert data["stage"] == f"Failed: {job_public_error(failed_for_good)}"
    assert_nothing_internal(page)
    assert_nothing_internal(str(data))


def test_staff_see_the_exception_and_its_traceback_on_the_ops_pages(
    client, alice, staff, enqueue, run_jobs
):
    record = enqueue(tasks.always_fail, owner=alice)
    run_jobs()
    client.force_login(staff)

    listed = client.get(reverse("ops:failed")).content.decode()
    detail = client.get(reverse("ops:failed-detail", args=["default", record.id])).content
    client.force_login(alice)
    owners_page = client.get(reverse("jobs:detail", args=[record.id])).content.decode()

    assert "Flaky: the downstream service is down" in listed
    assert b"Traceback (most recent call last)" in detail
    assert "Flaky" not in owners_page
    assert "we stopped trying after 1 attempt." in owners_page
