import io

import pytest
from PIL import Image


def jpeg(width=64, height=48, color=(200, 30, 30), exif=None):
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    image.save(buffer, "JPEG", **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def png(width=32, height=32, mode="RGBA"):
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def folder_storage(tmp_path):
    """The default photo storage in tests: a folder in this test's DATA_DIR."""
    return tmp_path / "photos"
