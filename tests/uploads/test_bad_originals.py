"""A file that passes the request's header checks but fails the full decode in its resize
job fails its photo at once, for good, with a message for people: no retries."""

import io
import struct
import zlib

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from jobs.models import JobRecord
from tests.factories import jpeg, png
from uploads.models import Photo

pytestmark = pytest.mark.django_db

UNREADABLE = "This file could not be read as an image: it is truncated or corrupt."


def truncated_jpeg():
    whole = jpeg(400, 300, color=(9, 90, 200))
    return whole[: len(whole) - 300]  # the header is whole; the scan data stops short


def png_with_garbage_pixels():
    data = bytearray(png(64, 64, mode="RGB"))
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    data[start : start + length] = b"\xde\xad" * (length // 2) + b"\x00" * (length % 2)
    crc = zlib.crc32(data[start - 4 : start + length])
    data[start + length : start + length + 4] = struct.pack(">I", crc)
    return bytes(data)


def gif_with_a_cut_stream():
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("P").save(buffer, "GIF")
    return buffer.getvalue()[:-100]


def post(client, capture, name, data):
    with capture(execute=True):
        response = client.post("/photos/upload/", {"images": [SimpleUploadedFile(name, data)]})
    assert response.status_code == 302, response.content  # the header checks passed
    return Photo.objects.get()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cut.jpg", truncated_jpeg()),
        ("garbage.png", png_with_garbage_pixels()),
        ("cut.gif", gif_with_a_cut_stream()),
    ],
    ids=["truncated-jpeg", "corrupt-png-data", "truncated-gif"],
)
def test_a_file_only_the_full_decode_refuses_fails_its_photo_at_once_without_retries(
    client, alice, run_jobs, redis, django_capture_on_commit_callbacks, name, data
):
    client.force_login(alice)
    photo = post(client, django_capture_on_commit_callbacks, name, data)
    resize = photo.resize_job
    assert resize.max_attempts == 3  # two retries it does not use

    run_jobs(with_scheduler=True)

    resize.refresh_from_db()
    assert (resize.status, resize.attempts) == ("failed", 1)
    assert resize.error == f"Permanent: {UNREADABLE}"  # the owner sees the message alone
    assert Job.fetch(str(resize.id), connection=redis).get_status() == JobStatus.FAILED
    assert not ScheduledJobRegistry("default", connection=redis).get_job_ids()
    photo.refresh_from_db()
    assert photo.status == "failed"
    assert photo.publish_job.status == "canceled"
    assert client.get(f"/photos/{photo.id}.json").json()["stage"] == f"Failed: {UNREADABLE}"
    assert len(mail.outbox) == 1  # the batch settled: its confirmation went out
    assert "could not" not in mail.outbox[0].subject


def test_a_photo_over_the_pixel_limit_by_the_time_its_job_runs_fails_for_good(
    client, alice, run_jobs, settings, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    photo = post(client, django_capture_on_commit_callbacks, "wide.png", png(300, 200))
    settings.UPLOAD_MAX_PIXELS = 10_000  # lowered between the upload and its job

    run_jobs()

    resize = JobRecord.objects.get(pk=photo.resize_job_id)
    assert (resize.status, resize.attempts) == ("failed", 1)
    assert resize.error == (
        "Permanent: This file could not be read as an image: it is 300×200 pixels; "  # noqa: RUF001
        "the limit is 0.01 megapixels."
    )


def test_a_failure_a_retry_might_fix_is_still_retried(
    client, alice, run_jobs, monkeypatch, django_capture_on_commit_callbacks
):
    from uploads import storage

    client.force_login(alice)
    photo = post(client, django_capture_on_commit_callbacks, "a.jpg", jpeg())

    def disk_hiccup(photo):
        raise OSError("disk busy")

    monkeypatch.setattr(storage, "open_original", disk_hiccup)
    run_jobs()

    resize = JobRecord.objects.get(pk=photo.resize_job_id)
    assert resize.status == "scheduled"
    assert resize.error == "OSError: disk busy"
