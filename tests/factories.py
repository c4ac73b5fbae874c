"""Things tests make: images in memory, and photo rows that skip the upload flow."""

import io
import uuid

from PIL import Image

from uploads.models import Photo


def jpeg(width=64, height=48, color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG")
    return buffer.getvalue()


def png(width=32, height=32, mode="RGBA"):
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


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
