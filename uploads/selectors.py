import uuid

from django.db.models import Exists
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from jobs.selectors import job_as_json
from uploads.models import ENDED_BADLY, Photo


def photos_for_user(user):
    return Photo.objects.filter(owner=user).select_related("resize_job", "publish_job")


def batch_get_for_user(user, batch):
    """The photos of one upload if `user` made it; 404 otherwise."""
    photos = list(photos_for_user(user).filter(batch=batch))
    if not photos:
        raise Http404("No such upload.")
    return photos


def photos_get_for_user(user, photo_ids):
    """Those of `photo_ids` that `user` owns; ids that are not UUIDs match nothing."""
    valid = []
    for photo_id in photo_ids:
        try:
            valid.append(uuid.UUID(photo_id))
        except ValueError:
            continue
    return list(photos_for_user(user).filter(pk__in=valid))


def photo_get_for_user(user, photo_id):
    """The photo if `user` owns it; 404 otherwise, for staff too (they use /ops/)."""
    return get_object_or_404(photos_for_user(user), pk=photo_id)


def photo_displayed_size(photo):
    """The photo's width and height as it is shown: upright, after its EXIF orientation.

    Photo.width and .height are the original's stored size, read from its header at upload
    before anything is decoded; a phone's portrait photo is stored sideways with an EXIF
    orientation of 5 to 8, which swaps the two. The variants are made upright (see
    uploads.imaging.make_variants), so once they exist the largest one tells which side is
    the long one. Until then, and for a square photo, the stored size is the answer.
    """
    width, height = photo.width, photo.height
    if photo.variants and width != height:
        largest = max(photo.variants.values(), key=lambda info: info["width"] * info["height"])
        upright_landscape = largest["width"] > largest["height"]
        if largest["width"] != largest["height"] and upright_landscape != (width > height):
            width, height = height, width
    return width, height


def photo_as_json(photo):
    state = photo.state
    return {
        "id": str(photo.id),
        "name": photo.original_name,
        "status": state.status,
        "stage": state.stage,
        "progress": state.progress,
        "terminal": state.status != Photo.Status.PROCESSING,
        "url": reverse("uploads:detail", args=[photo.id]),
        "status_url": reverse("uploads:status", args=[photo.id]),
        "jobs": [job_as_json(job) for job in (photo.resize_job, photo.publish_job) if job],
        "variants": {
            name: reverse("uploads:variant", args=[photo.id, name]) for name in photo.variants
        }
        if state.status == Photo.Status.READY
        else {},
    }


def photos_added_between(user, since, until):
    return Photo.objects.filter(owner=user, created_at__gt=since, created_at__lte=until)


def photos_added_exist(owner, since):
    """Exists() over photos of `owner` added after `since`; both may be OuterRefs."""
    return Exists(Photo.objects.filter(owner=owner, created_at__gt=since))


def batch_settled(batch):
    """True when no photo of the upload is still on its way: each is published or failed."""
    unsettled = (
        Photo.objects.filter(batch=batch, published_at__isnull=True)
        .exclude(resize_job__status__in=ENDED_BADLY)
        .exclude(publish_job__status__in=ENDED_BADLY)
    )
    return not unsettled.exists()


def has_photos(user):
    return Photo.objects.filter(owner=user).exists()
