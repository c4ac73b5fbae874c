import uuid

from django.db import transaction

from jobs.models import JobRecord
from jobs.services import job_cancel, job_requeue
from uploads import storage, tasks
from uploads.models import Photo

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


def photos_upload(*, owner, images):
    """Stage each original, record its Photo row and both of its jobs, in one transaction.

    `images` are uploads.forms.CheckedImage: each original is copied to storage from the
    file Django received, chunk by chunk (or moved, when it is a temporary file).

    On commit, RQ receives resize_image and, depending on it, upload_to_s3. If the
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
        photo.resize_job = tasks.enqueue_resize(photo)
        photo.publish_job = tasks.enqueue_publish(photo, after=photo.resize_job)
        photo.save(update_fields=["resize_job", "publish_job"])


def photo_retry(photo):
    """Run the failed step again; a canceled later step runs after it."""
    jobs = (photo.resize_job, photo.publish_job)
    failed = next((job for job in jobs if job and job.status == JobRecord.Status.FAILED), None)
    return job_requeue(failed) if failed else False


@transaction.atomic
def photo_delete(photo):
    """Delete the row now and its stored objects in the background."""
    for job in (photo.resize_job, photo.publish_job):
        if job:
            job_cancel(job, reason="The photo was deleted")
    tasks.enqueue_delete_files(photo)
    photo.delete()
