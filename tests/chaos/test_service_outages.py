"""S3 or SMTP down for a while: jobs wait it out with their retries, then every object and
email arrives exactly once."""

import time

import pytest

from jobs.models import JobRecord
from tests.chaos.harness import (
    WebClient,
    assert_every_email_arrived_once,
    duplicates,
    finished_count,
    kill_group,
    recovered_rows,
    report,
    rows,
    submit_deliveries,
    wait_until,
    wait_until_finished,
)
from tests.chaos.tasks import recipient
from tests.factories import jpeg
from uploads import storage
from uploads.models import Photo

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

OUTAGE = 20  # seconds
PEOPLE = 4


def hold_until(moment):
    """Keep a fault in place until time.monotonic() reaches `moment`: the outage itself."""
    time.sleep(max(0, moment - time.monotonic()))


def upload(client, count, shade):
    files = [(f"photo-{shade}-{n}.jpg", jpeg(640, 480, (shade, 40 * n, 90))) for n in range(count)]
    return [item["id"] for item in client.upload(files)["photos"]]


def test_an_s3_outage_of_twenty_seconds_delays_photos_but_loses_and_duplicates_none(stack):
    deployment = stack(workers=2, web=True, s3=True)
    people = []
    for number in range(PEOPLE):
        client = WebClient(f"http://127.0.0.1:{deployment.web_port}")
        name = f"photographer{number}"
        client.signup(name, f"{name}@example.com", "correct horse battery staple")
        people.append(client)

    # One photo each while S3 answers, so that objects exist before the outage.
    before = [photo for client in people for photo in upload(client, 1, shade=200)]
    published = Photo.objects.filter(published_at__isnull=False)
    wait_until(lambda: published.count() == len(before), timeout=60, message=deployment.moto.tail)

    kill_group(deployment.s3_endpoint)  # the endpoint refuses connections from now on
    down_at = time.monotonic()
    # Two more each while it is down: resizing works, publishing fails and retries.
    during = [photo for client in people for photo in upload(client, 2, shade=100)]
    publish_jobs = JobRecord.objects.filter(
        pk__in=Photo.objects.filter(pk__in=during).values("publish_job")
    )
    wait_until(
        lambda: publish_jobs.filter(attempts__gte=1).exclude(error="").exists(),
        timeout=OUTAGE,
        message="no upload failed against the dead endpoint",
    )
    hold_until(down_at + OUTAGE)
    deployment.start_s3_endpoint()  # the same port again
    back_at = time.monotonic()

    photos = Photo.objects.all()
    wait_until(
        lambda: photos.filter(published_at__isnull=False).count() == len(before) + len(during),
        timeout=60,
        message=lambda: list(
            JobRecord.objects.exclude(status="finished").values_list("kind", "status", "stage")
        ),
    )
    # Every job but the "upload your first photo" reminders, due a day after signup.
    every_job = JobRecord.objects.exclude(kind="send_first_photo_reminder")
    wait_until(
        lambda: every_job.exclude(status="finished").count() == 0,  # confirmations too
        timeout=30,
        message=lambda: list(every_job.exclude(status="finished").values_list("kind", "stage")),
    )
    seconds_to_recover = time.monotonic() - back_at

    # S3 holds exactly the photos' variants: none missing, none under another key.
    expected = {storage.published_key(photo, name) for photo in photos for name in photo.variants}
    keys = deployment.s3_keys()
    assert duplicates(keys) == 0
    assert set(keys) == expected
    assert len(keys) == 3 * photos.count()
    # One welcome and one confirmation per upload, each once: "1 photo ready", "2 photos ready".
    emails = [(email["to"][0], email["subject"]) for email in deployment.emails()]
    assert duplicates(emails) == 0, emails
    assert len(emails) == PEOPLE * 3
    assert {subject for _, subject in emails} == {
        "Welcome to the photo site",
        "1 photo ready",
        "2 photos ready",
    }
    # What each person's pages say.
    for client in people:
        for photo in Photo.objects.filter(owner__username=client.username):
            assert client.get_json(f"/photos/{photo.id}.json")["status"] == "ready"
    reminders = JobRecord.objects.filter(kind="send_first_photo_reminder")
    assert set(reminders.values_list("status", flat=True)) == {"scheduled"}
    retried = every_job.filter(kind="publish_photo", attempts__gt=1).count()
    assert retried > 0
    report(
        "f_s3_outage",
        jobs=every_job.count(),
        completed=every_job.filter(status="finished").count(),
        recovered=retried,
        seconds_to_recover=round(seconds_to_recover, 2),
        duplicates=duplicates(keys) + duplicates(emails),
        objects=len(keys),
        emails=len(emails),
        worker_restarts=deployment.restarts,
    )


def test_an_smtp_outage_of_twenty_seconds_delays_emails_but_loses_and_duplicates_none(stack):
    deployment = stack(workers=2)
    records = submit_deliveries(60, seconds=0.2)
    wait_until(lambda: len(deployment.emails()) >= 10, timeout=30)

    # First the server is gone (connection refused), then it answers but refuses every
    # message (451, try again later), then it is back.
    kill_group(deployment.smtp)
    down_at = time.monotonic()
    wait_until(
        lambda: rows(records).filter(error__contains="Connection refused").exists(),
        timeout=OUTAGE / 2,
        message="no job met the dead SMTP server",
    )
    hold_until(down_at + OUTAGE / 2)
    deployment.start_smtp(refuse=True)
    wait_until(
        lambda: rows(records).filter(error__contains="451").exists(),
        timeout=OUTAGE / 2,
        message="no job met the refusing SMTP server",
    )
    hold_until(down_at + OUTAGE)
    kill_group(deployment.smtp)
    deployment.start_smtp()
    back_at = time.monotonic()

    wait_until_finished(records)
    seconds_to_recover = time.monotonic() - back_at
    received = assert_every_email_arrived_once(deployment, [recipient(r.args[0]) for r in records])
    assert rows(records).filter(attempts__gt=1).exists()
    report(
        "g_smtp_outage",
        jobs=len(records),
        completed=finished_count(records),
        recovered=recovered_rows(records, deployment),
        seconds_to_recover=round(seconds_to_recover, 2),
        duplicates=duplicates(received),
        emails=len(received),
        worker_restarts=deployment.restarts,
    )
