"""Where photo bytes live, and the only module that knows S3 may be behind it.

Originals and freshly resized variants are staged in Django's default storage (local
disk). The publish job copies variants to the "photos" storage: S3 through
django-storages and boto3 when AWS_STORAGE_BUCKET_NAME is set, a folder otherwise.
Every key is derived from the photo's id, so retries overwrite rather than duplicate.
"""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.http import FileResponse
from django.shortcuts import redirect


def photo_storage():
    return storages["photos"]


def is_s3():
    from storages.backends.s3 import S3Storage

    return isinstance(photo_storage(), S3Storage)


def original_key(photo):
    return f"originals/{photo.id}.{photo.original_ext}"


def delete_original(photo):
    default_storage.delete(original_key(photo))


def staged_key(photo, name):
    return f"staging/{photo.id}/{name}.{photo.variants[name]['ext']}"


def published_key(photo, name):
    return f"photos/{photo.owner_id}/{photo.id}/{name}.{photo.variants[name]['ext']}"


def save_original(photo, data):
    default_storage.save(original_key(photo), ContentFile(data))


def read_original(photo):
    with default_storage.open(original_key(photo)) as file:
        return file.read()


def stage_variant(photo, name, data):
    default_storage.save(staged_key(photo, name), ContentFile(data))


def publish_variant(photo, name):
    with default_storage.open(staged_key(photo, name)) as file:
        photo_storage().save(published_key(photo, name), ContentFile(file.read()))


def variant_response(photo, name):
    """Send the browser to a variant: a presigned S3 URL, or the file itself."""
    key = published_key(photo, name)
    if is_s3():
        return redirect(photo_storage().url(key))
    return FileResponse(
        photo_storage().open(key), content_type=photo.variants[name]["content_type"]
    )


def delete_photo_objects(photo_id, owner_id, original_ext):
    """Delete every object a photo owns, found by its key prefixes rather than by its
    variants, so that objects a job wrote after the photo was read are found too."""
    deleted = 0
    original = f"originals/{photo_id}.{original_ext}"
    if default_storage.exists(original):
        default_storage.delete(original)
        deleted += 1
    for store, prefix in (
        (default_storage, f"staging/{photo_id}"),
        (photo_storage(), f"photos/{owner_id}/{photo_id}"),
    ):
        for name in _files_under(store, prefix):
            store.delete(f"{prefix}/{name}")
            deleted += 1
    return deleted


def _files_under(store, prefix):
    try:
        return store.listdir(prefix)[1]
    except FileNotFoundError:
        return []
