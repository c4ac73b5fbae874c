"""Writes for photos: upload, retry and delete, and the work the photo jobs do."""

import uuid

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from jobs.idempotency import once
from jobs.mail import send_email
from jobs.models import JobRecord
from jobs.services import job_cancel, job_requeue
from jobs.tracking import Permanent, report_progress
from uploads import (
    imaging,
    storage,
    tasks,  # tasks imports this module too; each uses the other at call time
)
from uploads.models import Photo
from uploads.selectors import batch_settled

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
DELETED = {"skipped": "the photo was deleted"}


def photos_upload(*, owner, images):
    """Stage each original, record its Photo row and both of its jobs, in one transaction.

    `images` are uploads.forms.CheckedImage: each original is copied to storage from the
    file Django received, chunk by chunk (or moved, when it is a temporary file).

    On commit, RQ receives resize_photo and, depending on it, publish_photo. If the
    transaction rolls back, the originals staged so far are deleted again.
    """
    photos = []
    try:
        with transaction.atomic():
            _record_photos(owner, images, photos)
    except BaseException:
        for photo in photos:
            storage.delete_original(photo)
        raise
    return photos


def _record_photos(owner, images, photos):
    batch = uuid.uuid4()
    for image in images:
        photo = Photo.objects.create(
            owner=owner,
            batch=batch,
            original_name=image.name,
            original_format=image.info.format,
            original_ext=EXTENSIONS[image.info.format],
            width=image.info.width,
            height=image.info.height,
            size_bytes=image.size,
        )
        photos.append(photo)
        storage.save_original(photo, image.file)
        photo_id = str(photo.id)
        photo.resize_job = tasks.resize_photo.enqueue(photo_id, owner=owner)
        photo.publish_job = tasks.publish_photo.using(after=photo.resize_job).enqueue(
            photo_id, owner=owner
        )
        photo.save(update_fields=["resize_job", "publish_job"])


def photo_retry(*, photo):
    """Run the failed step again; a canceled later step runs after it."""
    jobs = (photo.resize_job, photo.publish_job)
    failed = next((job for job in jobs if job and job.status == JobRecord.Status.FAILED), None)
    return job_requeue(record=failed) if failed else False


@transaction.atomic
def photo_delete(*, photo):
    """Delete the row now and its stored objects in the background."""
    for job in (photo.resize_job, photo.publish_job):
        if job:
            job_cancel(record=job, reason="The photo was deleted")
    tasks.delete_photo_files.enqueue(
        str(photo.id), photo.owner_id, photo.original_ext, owner=photo.owner
    )
    photo.delete()


def photo_resize(*, photo):
    """Make every variant of the photo's original and stage them for publishing."""
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
        return DELETED
    return {name: [info["width"], info["height"]] for name, info in photo.variants.items()}


def photo_variants(original, *, on_progress=None):
    """Every variant of an original, or Permanent.

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


def photo_publish(*, photo):
    """Copy the staged variants to the photo storage; then the photo is ready."""
    names = list(photo.variants)
    try:
        for done, name in enumerate(names):
            report_progress(100 * done // len(names), f"Publishing {name}")
            storage.publish_variant(photo, name)
    except Exception:
        if _exists(photo):
            raise  # a real failure: RQ retries it
    if not _exists(photo):
        # Deleted while we published: its delete job may have run before our last write.
        storage.delete_photo_objects(photo.id, photo.owner_id, photo.original_ext)
        return DELETED
    Photo.objects.filter(pk=photo.pk, published_at__isnull=True).update(published_at=timezone.now())
    batch_confirm_if_settled(batch=photo.batch, owner=photo.owner)
    return {"published": [storage.published_key(photo, name) for name in names]}


def _exists(photo):
    return Photo.objects.filter(pk=photo.pk).exists()


def photo_job_failed(*, record):
    """A photo's job failed for good: if that settles its batch, the confirmation goes out."""
    photo = (
        Photo.objects.filter(resize_job=record).first()
        or Photo.objects.filter(publish_job=record).first()
    )
    if photo is not None:
        batch_confirm_if_settled(batch=photo.batch, owner=photo.owner)


def batch_confirm_if_settled(*, batch, owner):
    """Once no photo of the upload is on its way, enqueue its one confirmation email.

    However many photos settle at the same moment, there is one email: the job's id is
    derived from the batch, so a second enqueue finds the first instead.
    """
    if not batch_settled(batch):
        return None
    job_id = uuid.uuid5(uuid.NAMESPACE_URL, f"upload_confirmation:{batch}")
    return tasks.send_upload_confirmation.using(job_id=job_id).enqueue(str(batch), owner=owner)


def upload_confirmation_send(*, batch):
    """Email the owner which photos of the upload are ready and which failed."""
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


def photo_files_delete(*, photo_id, owner_id, original_ext):
    """Delete every stored object of a photo whose row is gone."""
    return {"deleted": storage.delete_photo_objects(photo_id, owner_id, original_ext)}
