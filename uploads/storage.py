"""Where photo bytes live, and the only module that knows S3 may be behind it.

Originals and freshly resized variants are staged in Django's default storage (local
disk). The publish job copies variants to the "photos" storage: S3 through
django-storages and boto3 when AWS_STORAGE_BUCKET_NAME is set, a folder otherwise.
Every key is derived from the photo's id, so retries overwrite rather than duplicate.
"""

import re
import unicodedata

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages

from jobs.demo.controls import raise_if_failing
from uploads.imaging import VARIANT_TYPES


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


def save_original(photo, content):
    """Stage an original: `content` is bytes, or a Django File such as the UploadedFile
    of the request, which the storage copies by chunks (or moves, from a temporary file)
    instead of reading it whole."""
    if isinstance(content, bytes):
        content = ContentFile(content)
    default_storage.save(original_key(photo), content)


def open_original(photo):
    """The staged original as an open binary file; close it (use `with`)."""
    return default_storage.open(original_key(photo), "rb")


def stage_variant(photo, name, data):
    default_storage.save(staged_key(photo, name), ContentFile(data))


def publish_variant(photo, name):
    raise_if_failing("storage")  # the demo control's outage; nothing unless DEMO_CONTROLS is on
    with default_storage.open(staged_key(photo, name)) as file:
        # S3 stores this as the object's Content-Type: ours, from the encoder.
        file.content_type = variant_content_type(photo, name)
        photo_storage().save(published_key(photo, name), file)


def variant_content_type(photo, name):
    """The type our encoder made the variant as; never anything the client sent."""
    return VARIANT_TYPES.get(photo.variants[name]["ext"], "application/octet-stream")


def variant_filename(photo, name):
    """An ASCII file name for Content-Disposition: letters, digits, dot, dash, underscore."""
    stem = unicodedata.normalize("NFKD", photo.original_name.rsplit(".", 1)[0])
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem.encode("ascii", "ignore").decode())
    stem = stem.strip("-.")[:80] or "photo"
    extension = re.sub(r"[^A-Za-z0-9]+", "", photo.variants[name]["ext"])[:8]
    return f"{stem}-{name}.{extension}"


def open_published(photo, name):
    """A published variant as an open binary file, from a folder-backed photo storage."""
    return photo_storage().open(published_key(photo, name))


def presigned_url(photo, name, *, headers):
    """A presigned S3 URL for a published variant. `headers` are the response headers
    S3 sends back with it (ResponseContentType, ...), which the signature covers."""
    return photo_storage().url(published_key(photo, name), parameters=headers)


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
