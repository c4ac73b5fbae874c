"""The whole chain: upload -> resize_image -> upload_to_s3 -> one confirmation email."""

import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jobs.models import JobRecord
from tests.factories import jpeg
from tests.s3 import BUCKET
from uploads.models import Photo

pytestmark = pytest.mark.django_db


def post_images(client, *images, json=False, capture):
    files = [SimpleUploadedFile(name, data, content_type="image/jpeg") for name, data in images]
    headers = {"HTTP_ACCEPT": "application/json"} if json else {}
    with capture(execute=True):
        return client.post("/photos/upload/", {"images": files}, **headers)


def test_a_form_upload_redirects_to_the_batch_page(
    client, alice, django_capture_on_commit_callbacks
):
    client.force_login(alice)

    response = post_images(client, ("a.jpg", jpeg()), capture=django_capture_on_commit_callbacks)

    photo = Photo.objects.get()
    assert response.status_code == 302
    assert response.url == f"/photos/batch/{photo.batch}/"
    assert photo.resize_job.status == "queued"
    assert photo.publish_job.status == "deferred"
    assert photo.publish_job.depends_on == photo.resize_job


def test_a_json_client_gets_202_with_status_urls(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)

    response = post_images(
        client,
        ("a.jpg", jpeg()),
        ("b.jpg", jpeg()),
        json=True,
        capture=django_capture_on_commit_callbacks,
    )

    assert response.status_code == 202
    photos = response.json()["photos"]
    assert len(photos) == 2
    for item in photos:
        assert set(item) == {"id", "url", "status_url"}
        assert item["status_url"] == f"/photos/{item['id']}.json"


def test_the_chain_publishes_to_s3_and_sends_one_confirmation(
    client, alice, s3, run_jobs, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    big = jpeg(2400, 1800)
    post_images(
        client, ("one.jpg", big), ("two.jpg", big), capture=django_capture_on_commit_callbacks
    )

    run_jobs()

    photos = list(Photo.objects.all())
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    for photo in photos:
        assert photo.status == "ready"
        for name in ("large", "medium", "thumb"):
            key = f"photos/{alice.pk}/{photo.id}/{name}.jpg"
            assert key in keys
        body = s3.get_object(Bucket=BUCKET, Key=f"photos/{alice.pk}/{photo.id}/large.jpg")[
            "Body"
        ].read()
        assert Image.open(io.BytesIO(body)).size == (1600, 1200)
    assert len(keys) == 6
    assert len(mail.outbox) == 1
    assert "2 photos ready" in mail.outbox[0].subject
    assert JobRecord.objects.filter(kind="send_upload_confirmation").count() == 1


def test_the_photo_json_reports_variants_once_ready(
    client, alice, folder_storage, run_jobs, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    post_images(client, ("a.jpg", jpeg(900, 600)), capture=django_capture_on_commit_callbacks)
    photo = Photo.objects.get()

    before = client.get(f"/photos/{photo.id}.json").json()
    run_jobs()
    after = client.get(f"/photos/{photo.id}.json").json()

    assert (before["status"], before["stage"], before["variants"]) == ("processing", "Received", {})
    assert [job["kind"] for job in before["jobs"]] == ["resize_photo", "publish_photo"]
    assert after["status"] == "ready"
    assert after["stage"] == "Done"
    assert set(after["variants"]) == {"large", "medium", "thumb"}
    thumb = client.get(after["variants"]["thumb"])
    assert thumb.status_code == 200
    assert Image.open(io.BytesIO(b"".join(thumb.streaming_content))).size == (320, 213)


def test_a_variant_on_s3_redirects_to_a_presigned_url(
    client, alice, s3, run_jobs, django_capture_on_commit_callbacks
):
    import urllib.request

    client.force_login(alice)
    post_images(client, ("a.jpg", jpeg(900, 600)), capture=django_capture_on_commit_callbacks)
    run_jobs()
    photo = Photo.objects.get()

    response = client.get(f"/photos/{photo.id}/thumb/")

    assert response.status_code == 302
    assert "X-Amz-Signature=" in response.url
    with urllib.request.urlopen(response.url) as fetched:
        assert Image.open(io.BytesIO(fetched.read())).size == (320, 213)


def test_a_retried_upload_overwrites_instead_of_duplicating(
    client, alice, s3, redis, run_jobs, django_capture_on_commit_callbacks
):
    from jobs.services import job_push

    client.force_login(alice)
    post_images(client, ("a.jpg", jpeg(900, 600)), capture=django_capture_on_commit_callbacks)
    run_jobs()
    publish = Photo.objects.get().publish_job
    JobRecord.objects.filter(pk=publish.pk).update(status="pending")
    # As if Redis had lost the finished job and the sweeper pushed its row again.
    redis.delete(f"rq:job:{publish.id}")
    job_push(record=JobRecord.objects.get(pk=publish.pk))
    run_jobs()

    assert len(s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == 3
    assert len(mail.outbox) == 1


def test_an_s3_outage_is_retried_and_recovers(
    client, alice, s3, s3_endpoint, run_jobs, fast_forward, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    post_images(client, ("a.jpg", jpeg(900, 600)), capture=django_capture_on_commit_callbacks)
    s3_endpoint.stop()
    try:
        run_jobs()
        photo = Photo.objects.get()
        assert photo.resize_job.status == "finished"
        assert photo.publish_job.status == "scheduled"
        assert photo.publish_job.error == (
            "EndpointConnectionError: Could not connect to the endpoint URL: "
            f'"{s3_endpoint.url}/{BUCKET}/photos/{alice.id}/{photo.id}/large.jpg"'
        )
        assert client.get(f"/photos/{photo.id}.json").json()["status"] == "processing"
    finally:
        s3_endpoint.start()

    fast_forward()
    run_jobs(with_scheduler=True)

    photo = Photo.objects.get()
    assert photo.status == "ready"
    assert photo.publish_job.attempts == 2
    assert len(s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == 3


def test_after_the_last_attempt_the_photo_fails_and_its_owner_can_retry(
    client, alice, s3, s3_endpoint, run_jobs, settings, django_capture_on_commit_callbacks
):
    settings.JOB_RETRY_BASE_SECONDS = 0
    client.force_login(alice)
    post_images(client, ("a.jpg", jpeg(900, 600)), capture=django_capture_on_commit_callbacks)
    s3_endpoint.stop()
    try:
        run_jobs()
    finally:
        s3_endpoint.start()
    photo = Photo.objects.get()
    assert photo.status == "failed"
    assert photo.publish_job.attempts == 6
    page = client.get(f"/photos/{photo.id}/").content.decode()
    assert "Try again" in page
    assert client.get(f"/photos/{photo.id}.json").json()["stage"].startswith("Failed: ")

    response = client.post(f"/photos/{photo.id}/retry/")
    run_jobs()

    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.status == "ready"
    assert len(mail.outbox) == 1


def test_deleting_a_photo_removes_its_objects(
    client, alice, s3, run_jobs, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    client.force_login(alice)
    post_images(client, ("a.jpg", jpeg(900, 600)), capture=django_capture_on_commit_callbacks)
    run_jobs()
    photo = Photo.objects.get()
    assert default_storage.exists(f"originals/{photo.id}.jpg")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/photos/{photo.id}/delete/")
    run_jobs()

    assert response.status_code == 302
    assert not Photo.objects.exists()
    assert s3.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
    assert not default_storage.exists(f"originals/{photo.id}.jpg")
    assert not default_storage.exists(f"staging/{photo.id}/thumb.jpg")


def test_the_gallery_shows_my_photos(
    client, alice, folder_storage, run_jobs, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    post_images(client, ("holiday.jpg", jpeg()), capture=django_capture_on_commit_callbacks)
    run_jobs()

    page = client.get("/photos/").content.decode()

    photo = Photo.objects.get()
    assert "holiday.jpg" in page
    assert f"/photos/{photo.id}/thumb/" in page
