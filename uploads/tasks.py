"""Photo jobs. Each loads its photo and calls one service (uploads.services).

Upload flow: uploads.views.upload -> uploads.services.photos_upload (original staged,
Photo row and both job rows in one transaction) -> on commit RQ gets resize_photo, and
publish_photo as its dependent -> workers run them, reporting progress -> the last
photo of a batch to settle (published, or failed for good) enqueues one
send_upload_confirmation -> /photos/<id>/ polls it all.

A photo can be deleted while its jobs run: a job that finds no row skips, and the
services remove what they wrote if the row went away meanwhile.
"""

from datetime import timedelta

from jobs.base import job
from uploads import services
from uploads.models import Photo

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def photo_job_failed(record):
    """Called once when a photo's job has failed for good: its batch may now be settled."""
    services.photo_job_failed(record=record)


# CPU-bound: a 50-megapixel PNG takes seconds, not minutes.
@job(
    queue="default",
    retries=2,
    timeout=120,
    keep_result=HOUR,
    keep_failure=WEEK,
    on_failure=photo_job_failed,
    label="Resize a photo",
    about="Makes the smaller sizes of a photo you uploaded from its original.",
)
def resize_photo(photo_id):
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return services.DELETED
    return services.photo_resize(photo=photo)


# Storage hiccups get five retries: 2, 4, 8, 16, 32 seconds by default.
@job(
    queue="default",
    retries=5,
    timeout=120,
    keep_result=HOUR,
    keep_failure=WEEK,
    on_failure=photo_job_failed,
    label="Publish a photo",
    about="Copies the resized photo to storage, where the gallery reads it, after the resize.",
)
def publish_photo(photo_id):
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return services.DELETED
    return services.photo_publish(photo=photo)


@job(
    queue="high",
    retries=5,
    timeout=60,
    keep_result=DAY,
    keep_failure=WEEK,
    label="Upload confirmation email",
    about="Emails you which photos of an upload are ready and which failed, once all are settled.",
)
def send_upload_confirmation(batch):
    return services.upload_confirmation_send(batch=batch)


@job(
    queue="low",
    retries=5,
    label="Delete a photo's files",
    about="Removes a deleted photo's files from storage.",
)
def delete_photo_files(photo_id, owner_id, original_ext):
    return services.photo_files_delete(
        photo_id=photo_id, owner_id=owner_id, original_ext=original_ext
    )
