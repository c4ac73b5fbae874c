from django.db.models import Exists
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from jobs.models import JobRecord
from jobs.selectors import job_as_json, job_public_error
from uploads.models import Photo


def photos_for_user(user):
    return Photo.objects.filter(owner=user).select_related("resize_job", "publish_job")


def batch_get_for_user(user, batch):
    """The photos of one upload if `user` made it; 404 otherwise."""
    photos = list(photos_for_user(user).filter(batch=batch))
    if not photos:
        raise Http404("No such upload.")
    return photos


def photo_get_for_user(user, photo_id):
    """The photo if `user` owns it; 404 otherwise, for staff too (they use /ops/)."""
    return get_object_or_404(photos_for_user(user), pk=photo_id)


def photo_stage(photo):
    """Where the photo is, in words: received, resizing n%, uploading, done."""
    resize, publish = photo.resize_job, photo.publish_job
    if photo.status == Photo.Status.READY:
        return "Done", 100
    if photo.status == Photo.Status.FAILED:
        failed = resize if resize and resize.status == "failed" else publish
        return f"Failed: {job_public_error(failed) if failed else 'unknown error'}", 0
    if resize and resize.status == "started":
        return f"Resizing {resize.progress}%", resize.progress * 7 // 10
    if resize and resize.status == "finished":
        progress = publish.progress if publish else 0
        return "Uploading to storage", 70 + progress * 3 // 10
    return "Received", 0


def photo_as_json(photo):
    stage, progress = photo_stage(photo)
    return {
        "id": str(photo.id),
        "name": photo.original_name,
        "status": photo.status,
        "stage": stage,
        "progress": progress,
        "terminal": photo.status != Photo.Status.PROCESSING,
        "url": reverse("uploads:detail", args=[photo.id]),
        "status_url": reverse("uploads:status", args=[photo.id]),
        "jobs": [job_as_json(job) for job in (photo.resize_job, photo.publish_job) if job],
        "variants": {
            name: reverse("uploads:variant", args=[photo.id, name]) for name in photo.variants
        }
        if photo.status == Photo.Status.READY
        else {},
    }


def photos_added_between(user, since, until):
    return Photo.objects.filter(owner=user, created_at__gt=since, created_at__lte=until)


def photos_added_exist(owner, since):
    """Exists() over photos of `owner` added after `since`; both may be OuterRefs."""
    return Exists(Photo.objects.filter(owner=owner, created_at__gt=since))


def batch_settled(batch):
    """True when no photo of the upload is still on its way: each is published or failed."""
    ended_badly = (JobRecord.Status.FAILED, JobRecord.Status.CANCELED)
    unsettled = (
        Photo.objects.filter(batch=batch, published_at__isnull=True)
        .exclude(resize_job__status__in=ended_badly)
        .exclude(publish_job__status__in=ended_badly)
    )
    return not unsettled.exists()


def has_photos(user):
    return Photo.objects.filter(owner=user).exists()
