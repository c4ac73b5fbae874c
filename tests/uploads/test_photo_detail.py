"""A photo's page shows its large variant and its size the way it is seen, upright."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from uploads.models import Photo

pytestmark = pytest.mark.django_db

ORIENTATION = 0x0112


def camera_jpeg(orientation, size=(2000, 1500)):
    """A JPEG stored landscape, with the EXIF orientation a camera writes."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def upload_and_process(client, owner, data, run_jobs, capture):
    client.force_login(owner)
    with capture(execute=True):
        client.post(
            "/photos/upload/",
            {"images": [SimpleUploadedFile("p.jpg", data, content_type="image/jpeg")]},
        )
    run_jobs()
    return Photo.objects.get()


@pytest.mark.parametrize(
    ("orientation", "shown"),
    [(1, (2000, 1500)), (3, (2000, 1500)), (5, (1500, 2000)), (6, (1500, 2000)), (8, (1500, 2000))],
)
def test_it_gives_the_size_as_displayed_after_the_exif_orientation(
    client, alice, run_jobs, django_capture_on_commit_callbacks, orientation, shown
):
    photo = upload_and_process(
        client, alice, camera_jpeg(orientation), run_jobs, django_capture_on_commit_callbacks
    )
    assert (photo.width, photo.height) == (2000, 1500)  # stored as the header says

    page = client.get(f"/photos/{photo.id}/").content.decode()

    size = re.search(r'data-field="size">(\d+)\N{MULTIPLICATION SIGN}(\d+) JPEG', page)
    assert (int(size.group(1)), int(size.group(2))) == shown


def test_it_shows_the_large_variant_with_its_upright_dimensions(
    client, alice, run_jobs, django_capture_on_commit_callbacks
):
    photo = upload_and_process(
        client, alice, camera_jpeg(6), run_jobs, django_capture_on_commit_callbacks
    )

    page = client.get(f"/photos/{photo.id}/").content.decode()

    image = re.search(r'<img src="([^"]+)" width="(\d+)" height="(\d+)"', page)
    assert image.groups() == (f"/photos/{photo.id}/large/", "1200", "1600")
    large = Image.open(io.BytesIO(b"".join(client.get(image.group(1)).streaming_content)))
    assert large.size == (1200, 1600)


def test_a_processing_photo_shows_a_placeholder_and_the_stored_size(
    client, alice, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/photos/upload/",
            {"images": [SimpleUploadedFile("p.jpg", camera_jpeg(1), content_type="image/jpeg")]},
        )
    photo = Photo.objects.get()  # no worker ran: still processing

    page = client.get(f"/photos/{photo.id}/").content.decode()

    assert 'data-field="size">2000\N{MULTIPLICATION SIGN}1500 JPEG' in page
    assert re.search(r'<img alt="p.jpg" data-field="thumb" data-variant="large" hidden>', page)
    assert 'data-field="placeholder">Processing</div>' in page
