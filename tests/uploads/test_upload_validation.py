"""Every bad upload gets a clear message naming the file, and nothing is stored or queued."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jobs.models import JobRecord
from tests.factories import jpeg, png
from uploads.models import Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def upload(client, *files, json=False):
    uploads = [SimpleUploadedFile(name, data) for name, data in files]
    headers = {"HTTP_ACCEPT": "application/json"} if json else {}
    return client.post("/photos/upload/", {"images": uploads}, **headers)


def errors_of(response):
    return response.context["form"].errors["images"]


def bmp():
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "BMP")
    return buffer.getvalue()


def bomb():
    # A tiny file that claims 30000x30000 pixels: decoding it would take 900 MB.
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, "PNG")
    return buffer.getvalue()


def a_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("notes.txt", b"just some text", "not an image"),
        ("empty.jpg", b"", "empty"),
        ("page.jpg", b"<html><body>hi</body></html>", "not an image"),
        ("archive.png", a_zip(), "not an image"),
        ("cut.jpg", jpeg(400, 300)[:600], "truncated"),
        ("old.bmp", bmp(), "allowed"),
        ("bomb.png", bomb(), "pixels"),
    ],
)
def test_a_bad_file_is_refused_with_its_name_in_the_message(logged_in, name, data, words):
    response = upload(logged_in, (name, data))

    assert response.status_code == 400
    [message] = errors_of(response)
    assert name in message
    assert words in message.lower()
    assert not Photo.objects.exists()
    assert not JobRecord.objects.exists()


def test_one_bad_file_among_good_ones_stores_nothing_and_names_only_the_bad_one(logged_in):
    response = upload(logged_in, ("good.jpg", jpeg()), ("bad.jpg", b"nope"), ("fine.png", png()))

    [message] = errors_of(response)
    assert message.startswith("bad.jpg ")
    assert not Photo.objects.exists()


def test_a_file_over_the_size_limit_is_refused(logged_in, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1000
    data = jpeg(300, 300, color=(1, 2, 3))
    assert len(data) > 1000

    [message] = errors_of(upload(logged_in, ("huge.jpg", data)))

    assert "huge.jpg is" in message
    assert "the limit is 1000" in message


def test_too_many_files_are_refused(logged_in, settings):
    settings.UPLOAD_MAX_FILES = 2

    response = upload(logged_in, *[(f"{i}.jpg", jpeg()) for i in range(3)])

    assert "at most 2 at once" in errors_of(response)[0]


def test_a_request_over_the_total_limit_is_refused_with_413(logged_in, settings):
    settings.UPLOAD_MAX_REQUEST_BYTES = 2000

    response = upload(logged_in, ("a.jpg", jpeg(300, 300)), ("b.jpg", jpeg(300, 300)))

    assert response.status_code == 413
    assert "the limit is" in response.content.decode()
    assert not Photo.objects.exists()


def test_no_file_at_all_asks_for_one(logged_in):
    response = logged_in.post("/photos/upload/", {})

    assert response.status_code == 400
    assert errors_of(response) == ["Choose at least one image."]


def test_a_json_client_gets_errors_as_json(logged_in):
    response = upload(logged_in, ("bad.jpg", b"nope"), json=True)

    assert response.status_code == 400
    assert response.json()["errors"]["images"][0].startswith("bad.jpg ")


def test_a_client_filename_never_becomes_a_storage_key(
    logged_in, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    with django_capture_on_commit_callbacks(execute=True):
        upload(logged_in, ("../../etc/passwd.jpg", jpeg()))

    photo = Photo.objects.get()
    assert photo.original_name == "passwd.jpg" or ".." not in photo.original_name
    assert default_storage.exists(f"originals/{photo.id}.jpg")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_each_allowed_format_is_accepted(logged_in, fmt, django_capture_on_commit_callbacks):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(buffer, fmt)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(logged_in, (f"x.{fmt.lower()}", buffer.getvalue()))

    assert response.status_code == 302
    assert Photo.objects.get().original_format == fmt


def test_the_upload_page_needs_a_login(client):
    response = client.get("/photos/upload/")
    assert response.status_code == 302
    assert "/accounts/login/" in response.url
