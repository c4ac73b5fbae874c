"""Photo jobs.

Upload flow: uploads.views.upload -> uploads.services.photos_upload (original staged,
Photo row and both job rows in one transaction) -> on commit RQ gets resize_image, and
upload_to_s3 as its dependent -> workers run them, reporting progress -> the last photo
of a batch to settle (published, or failed for good) enqueues one confirmation email ->
/photos/<id>/ polls it all.

A file that passes the request's header checks but fails the full decode in resize_image
fails its photo at once (jobs.tracking.Permanent: no retries), with a message for people.

A photo can be deleted while its jobs run. Each job checks that its row still exists
after writing, and removes what it wrote if not, so nothing outlives the photo.
"""

import uuid

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from jobs.idempotency import once
from jobs.mail import send_email
from jobs.services import job_enqueue
from jobs.tracking import Permanent, report_progress, tracked
from uploads import imaging, storage
from uploads.models import Photo
from uploads.selectors import batch_settled

PUBLISH_RETRIES = 5  # S3 hiccups: 2, 4, 8, 16, 32 seconds by default
DAY = 24 * 3600


# Runs once when a photo's job fails for good, so that its batch still gets its email.
ON_FAILURE = "uploads.tasks.photo_job_failed"


def enqueue_resize(photo):
    return job_enqueue(
        func="uploads.tasks.resize_image",
        on_failure=ON_FAILURE,
        kind="resize_image",
        args=[str(photo.id)],
        owner=photo.owner,
        queue="default",
        retries=2,
        timeout=120,  # CPU-bound: a 50-megapixel PNG takes seconds, not minutes
        result_ttl=3600,
        failure_ttl=7 * DAY,
    )


def enqueue_publish(photo, *, after):
    return job_enqueue(
        func="uploads.tasks.upload_to_s3",
        on_failure=ON_FAILURE,
        kind="upload_to_s3",
        args=[str(photo.id)],
        owner=photo.owner,
        queue="default",
        retries=PUBLISH_RETRIES,
        timeout=120,
        result_ttl=3600,
        failure_ttl=7 * DAY,
        depends_on=after,
    )


def enqueue_confirmation(batch, owner):
    # One email per batch, however many photos finish at the same moment: the job's id
    # is derived from the batch, so a second enqueue finds the first instead.
    return job_enqueue(
        func="uploads.tasks.send_upload_confirmation",
        kind="upload_confirmation",
        args=[str(batch)],
        owner=owner,
        queue="high",
        retries=5,
        timeout=60,
        result_ttl=DAY,
        failure_ttl=7 * DAY,
        job_id=uuid.uuid5(uuid.NAMESPACE_URL, f"upload_confirmation:{batch}"),
    )


def enqueue_delete_files(photo):
    return job_enqueue(
        func="uploads.tasks.delete_photo_files",
        kind="delete_photo_files",
        args=[str(photo.id), photo.owner_id, photo.original_ext],
        owner=photo.owner,
        queue="low",
        retries=5,
    )


@tracked
def resize_image(photo_id):
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return {"skipped": "the photo was deleted"}
    report_progress(5, "Resizing")

    def progress(done, total, name):
        report_progress(5 + 90 * done // total, f"Resizing: {name} done ({done}/{total})")

    with storage.open_original(photo) as original:
        variants = photo_variants(original, on_progress=progress)
    photo.variants = {
        variant.name: {
            "width": variant.width,
            "height": variant.height,
            "content_type": variant.content_type,
            "ext": variant.extension,
        }
        for variant in variants
    }
    for variant in variants:
        storage.stage_variant(photo, variant.name, variant.data)
    if not Photo.objects.filter(pk=photo.pk).update(variants=photo.variants):  # deleted meanwhile
        storage.delete_photo_objects(photo.id, photo.owner_id, photo.original_ext)
        return {"skipped": "the photo was deleted"}
    return {name: [info["width"], info["height"]] for name, info in photo.variants.items()}


def photo_variants(original, *, on_progress=None):
    """The worker's image step: every variant of an original, or Permanent.

    The request checked only the header; the full decode here finds what it could not
    (truncated or corrupt data, a decompression bomb). Trying again would decode the
    same bytes, so such a photo fails now, for good, with a message for its owner.
    """
    try:
        return imaging.make_variants(
            original, max_pixels=settings.UPLOAD_MAX_PIXELS, on_progress=on_progress
        )
    except imaging.ImageRejected as exc:
        raise Permanent(f"This file could not be read as an image: it {exc}.") from exc


@tracked
def upload_to_s3(photo_id):
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return {"skipped": "the photo was deleted"}
    names = list(photo.variants)
    try:
        for done, name in enumerate(names):
            report_progress(100 * done // len(names), f"Uploading {name} to storage")
            storage.publish_variant(photo, name)
    except Exception:
        if _exists(photo):
            raise  # a real failure: RQ retries it
    if not _exists(photo):
        # Deleted while we uploaded: its delete job may have run before our last write.
        storage.delete_photo_objects(photo.id, photo.owner_id, photo.original_ext)
        return {"skipped": "the photo was deleted"}
    Photo.objects.filter(pk=photo.pk, published_at__isnull=True).update(published_at=timezone.now())
    if batch_settled(photo.batch):
        enqueue_confirmation(photo.batch, photo.owner)
    return {"published": [storage.published_key(photo, name) for name in names]}


def _exists(photo):
    return Photo.objects.filter(pk=photo.pk).exists()


def photo_job_failed(record):
    """A photo's job failed for good: if that settles its batch, the confirmation goes out."""
    photo = (
        Photo.objects.filter(resize_job=record).first()
        or Photo.objects.filter(publish_job=record).first()
    )
    if photo is not None and batch_settled(photo.batch):
        enqueue_confirmation(photo.batch, photo.owner)


@tracked
def send_upload_confirmation(batch):
    photos = list(Photo.objects.filter(batch=batch).select_related("owner"))
    if not photos:
        return {"sent": False, "reason": "the photos were deleted"}
    owner = photos[0].owner
    ready = [photo for photo in photos if photo.published_at]
    failed = [photo for photo in photos if not photo.published_at]
    body = render_to_string(
        "emails/upload_confirmation.txt", {"user": owner, "ready": ready, "failed": failed}
    )
    sent = once(
        f"upload_confirmation:{batch}",
        lambda: send_email(
            subject=f"{len(ready)} photo{'s' if len(ready) != 1 else ''} ready",
            body=body,
            to=owner.email,
        ),
    )
    return {"sent": sent, "photos": len(ready), "failed": len(failed)}


@tracked
def delete_photo_files(photo_id, owner_id, original_ext):
    deleted = storage.delete_photo_objects(photo_id, owner_id, original_ext)
    return {"deleted": deleted}
