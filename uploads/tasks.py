"""Photo jobs.

Upload flow: uploads.views.upload -> uploads.services.photos_upload (original staged,
Photo row and both job rows in one transaction) -> on commit RQ gets resize_image, and
upload_to_s3 as its dependent -> workers run them, reporting progress -> the last photo
of a batch to be published enqueues one confirmation email -> /photos/<id>/ polls it all.
"""

import uuid

from django.template.loader import render_to_string
from django.utils import timezone

from jobs.idempotency import once
from jobs.mail import send_email
from jobs.services import job_enqueue
from jobs.tracking import report_progress, tracked
from uploads import imaging, storage
from uploads.models import Photo

PUBLISH_RETRIES = 5  # S3 hiccups: 2, 4, 8, 16, 32 seconds by default
DAY = 24 * 3600


def enqueue_resize(photo):
    return job_enqueue(
        func="uploads.tasks.resize_image",
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
    staged, published = storage.photo_keys(photo)
    return job_enqueue(
        func="uploads.tasks.delete_photo_files",
        kind="delete_photo_files",
        args=[staged, published],
        owner=photo.owner,
        queue="low",
        retries=5,
    )


@tracked
def resize_image(photo_id):
    photo = Photo.objects.get(pk=photo_id)
    report_progress(5, "Resizing")

    def progress(done, total, name):
        report_progress(5 + 90 * done // total, f"Resizing: {name} done ({done}/{total})")

    variants = imaging.make_variants(storage.read_original(photo), on_progress=progress)
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
    photo.save(update_fields=["variants"])
    return {name: [info["width"], info["height"]] for name, info in photo.variants.items()}


@tracked
def upload_to_s3(photo_id):
    photo = Photo.objects.get(pk=photo_id)
    names = list(photo.variants)
    for done, name in enumerate(names):
        report_progress(100 * done // len(names), f"Uploading {name} to storage")
        storage.publish_variant(photo, name)
    Photo.objects.filter(pk=photo.pk, published_at__isnull=True).update(published_at=timezone.now())
    if not Photo.objects.filter(batch=photo.batch, published_at__isnull=True).exists():
        enqueue_confirmation(photo.batch, photo.owner)
    return {"published": [storage.published_key(photo, name) for name in names]}


@tracked
def send_upload_confirmation(batch):
    photos = list(Photo.objects.filter(batch=batch).select_related("owner"))
    if not photos:
        return {"sent": False, "reason": "the photos were deleted"}
    owner = photos[0].owner
    body = render_to_string("emails/upload_confirmation.txt", {"user": owner, "photos": photos})
    sent = once(
        f"upload_confirmation:{batch}",
        lambda: send_email(
            subject=f"{len(photos)} photo{'s' if len(photos) != 1 else ''} ready",
            body=body,
            to=owner.email,
        ),
    )
    return {"sent": sent, "photos": len(photos)}


@tracked
def delete_photo_files(staged, published):
    storage.delete_objects(staged, published)
    return {"deleted": len(staged) + len(published)}
