"""Rows for tests that need a photo in the database but not the upload flow."""

import uuid

from uploads.models import Photo


def make_photo(owner, **fields):
    defaults = {
        "batch": uuid.uuid4(),
        "original_name": "photo.jpg",
        "original_format": "JPEG",
        "original_ext": "jpg",
        "width": 10,
        "height": 10,
        "size_bytes": 100,
    }
    return Photo.objects.create(owner=owner, **{**defaults, **fields})
