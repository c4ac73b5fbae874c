"""What happens around the chain: a photo deleted while its jobs run, a photo that fails
for good inside a batch, an upload whose transaction rolls back."""

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tests.factories import jpeg
from tests.s3 import BUCKET
from tests.uploads.test_upload_flow import post_images
from uploads import imaging, storage
from uploads.models import Photo
from uploads.services import photo_delete

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admins(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]


def admin_alerts():
    return [message for message in mail.outbox if message.to == ["ops@example.com"]]


def staged_files(photo_id):
    return (
        default_storage.listdir(f"staging/{photo_id}")[1]
        if default_storage.exists(f"staging/{photo_id}")
        else []
    )


def test_a_photo_deleted_while_it_uploads_leaves_no_object_behind(
    client, alice, s3, run_jobs, monkeypatch, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    post_images(client, ("a.jpg", jpeg(900, 600)), capture=django_capture_on_commit_callbacks)

    def publish_while_the_owner_deletes(photo, name):
        with default_storage.open(storage.staged_key(photo, name)) as staged:
            data = staged.read()
        if Photo.objects.filter(pk=photo.pk).exists():
            # Between reading the bytes and writing them, the owner deletes the photo
            # and another worker runs its delete job.
            Photo.objects.filter(pk=photo.pk).delete()
            storage.delete_photo_objects(photo.id, photo.owner_id, photo.original_ext)
        storage.photo_storage().save(storage.published_key(photo, name), ContentFile(data))

    monkeypatch.setattr(storage, "publish_variant", publish_while_the_owner_deletes)
    run_jobs()

    assert s3.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
    assert admin_alerts() == []


def test_a_photo_deleted_while_it_is_resized_fails_nothing_and_alerts_nobody(
    client, alice, folder_storage, run_jobs, monkeypatch, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    post_images(client, ("a.jpg", jpeg(900, 600)), capture=django_capture_on_commit_callbacks)
    photo = Photo.objects.get()
    resize_job = photo.resize_job
    make_variants = imaging.make_variants

    def resize_while_the_owner_deletes(data, **options):
        photo_delete(photo=Photo.objects.get(pk=photo.pk))
        return make_variants(data, **options)

    monkeypatch.setattr(imaging, "make_variants", resize_while_the_owner_deletes)
    run_jobs()

    resize_job.refresh_from_db()
    assert (resize_job.status, resize_job.result) == (
        "finished",
        {"skipped": "the photo was deleted"},
    )
    assert staged_files(photo.id) == []
    assert admin_alerts() == []


def test_a_batch_with_a_photo_that_failed_for_good_still_gets_its_confirmation(
    client, alice, folder_storage, run_jobs, settings, django_capture_on_commit_callbacks
):
    settings.JOB_RETRY_BASE_SECONDS = 0
    client.force_login(alice)
    post_images(
        client,
        ("good.jpg", jpeg(900, 600)),
        ("broken.jpg", jpeg(900, 600)),
        capture=django_capture_on_commit_callbacks,
    )
    broken = Photo.objects.get(original_name="broken.jpg")
    with default_storage.open(storage.original_key(broken), "wb") as original:
        original.write(b"not an image any more")

    run_jobs()

    [confirmation] = [message for message in mail.outbox if message.to == ["alice@example.com"]]
    assert confirmation.subject == "1 photo ready"
    assert "- good.jpg" in confirmation.body
    assert "1 could not be processed" in confirmation.body
    assert "- broken.jpg" in confirmation.body


def test_an_upload_that_rolls_back_leaves_no_staged_original(
    client, alice, monkeypatch, django_capture_on_commit_callbacks
):
    from uploads import storage

    save_original = storage.save_original
    calls = []

    def fail_on_the_second_photo(photo, content):
        calls.append(photo)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return save_original(photo, content)

    monkeypatch.setattr(storage, "save_original", fail_on_the_second_photo)
    client.force_login(alice)

    with pytest.raises(RuntimeError):
        post_images(
            client, ("a.jpg", jpeg()), ("b.jpg", jpeg()), capture=django_capture_on_commit_callbacks
        )

    assert not Photo.objects.exists()
    assert default_storage.listdir("originals")[1] == []
