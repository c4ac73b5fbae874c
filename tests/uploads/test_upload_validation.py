"""Every bad upload gets a clear message naming the file, and nothing is stored or queued."""

import io
import struct
import zipfile
import zlib

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


@pytest.fixture(scope="session")
def bomb_png():
    """A tiny, valid PNG of 30000x30000 black pixels: decoding it would take 900 MB.

    Its 112 MB of raw rows are compressed a slice at a time, so building it never holds
    the image in memory, and it is built once, only when a test asks for it.
    """
    width = height = 30_000
    row = b"\0" * (1 + (width + 7) // 8)  # filter type 0, then one bit per pixel
    compressor = zlib.compressobj(9)
    rows = b"".join(compressor.compress(row * 1000) for _ in range(height // 1000))
    rows += compressor.flush()

    def chunk(kind, data):
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


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
        ("bomb.png", "bomb_png", "pixels"),  # a fixture: too costly to build at import
    ],
)
def test_a_bad_file_is_refused_with_its_name_in_the_message(logged_in, request, name, data, words):
    if isinstance(data, str):
        data = request.getfixturevalue(data)
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


def test_a_mixed_upload_page_says_which_files_were_refused_and_that_the_good_ones_were_not_uploaded(
    logged_in,
):
    response = upload(logged_in, ("good.jpg", jpeg()), ("bad.jpg", b"nope"), ("fine.png", png()))

    assert response.status_code == 400
    page = response.content.decode()
    assert 'Refused: <span data-field="refused">bad.jpg</span>' in page
    assert (
        "Nothing was uploaded. good.jpg, fine.png passed every check but were not uploaded "
        "either: choose them again without the refused files."
    ) in page
    assert "bad.jpg is not an image we can read" in page


def test_a_mixed_upload_json_lists_the_refused_files_and_the_valid_ones_not_uploaded(logged_in):
    response = upload(
        logged_in, ("good.jpg", jpeg()), ("bad.jpg", b"nope"), ("empty.png", b""), json=True
    )

    assert response.status_code == 400
    reply = response.json()
    assert reply["errors"]["images"] == [
        "bad.jpg is not an image we can read",
        "empty.png is empty.",
    ]
    assert reply["refused"] == [
        {"name": "bad.jpg", "error": "bad.jpg is not an image we can read"},
        {"name": "empty.png", "error": "empty.png is empty."},
    ]
    assert reply["valid"] == ["good.jpg"]
    assert reply["message"].startswith("Nothing was uploaded. good.jpg passed every check but was")
    assert not Photo.objects.exists()


def test_an_upload_whose_every_file_is_bad_says_only_that_nothing_was_uploaded(logged_in):
    reply = upload(logged_in, ("bad.jpg", b"nope"), json=True).json()

    assert (reply["valid"], reply["message"]) == ([], "Nothing was uploaded.")


def test_a_file_over_the_size_limit_is_refused_with_413(logged_in, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1000
    data = jpeg(300, 300, color=(1, 2, 3))
    assert len(data) > 1000

    response = upload(logged_in, ("huge.jpg", data), ("small.jpg", jpeg(8, 8)))

    assert response.status_code == 413
    [message] = errors_of(response)
    assert "huge.jpg is" in message
    assert "the limit is 1000" in message
    assert "small.jpg passed every check but was not uploaded either" in (response.content.decode())
    assert not Photo.objects.exists()


def test_a_bad_file_next_to_an_oversized_one_still_gets_413_and_both_reasons(logged_in, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1000

    response = upload(logged_in, ("huge.jpg", jpeg(300, 300, color=(1, 2, 3))), ("x.jpg", b"no"))

    assert response.status_code == 413
    assert [m.split(" ")[0] for m in errors_of(response)] == ["huge.jpg", "x.jpg"]


def test_too_many_files_are_refused(logged_in, settings):
    settings.UPLOAD_MAX_FILES = 2

    response = upload(logged_in, *[(f"{i}.jpg", jpeg()) for i in range(3)])

    assert response.status_code == 400
    assert "at most 2 at once" in errors_of(response)[0]
    assert "Nothing was uploaded." in response.content.decode()
    assert not Photo.objects.exists()


def test_a_request_over_the_total_limit_is_refused_with_413(logged_in, settings):
    settings.UPLOAD_MAX_REQUEST_BYTES = 2000

    response = upload(logged_in, ("a.jpg", jpeg(300, 300)), ("b.jpg", jpeg(300, 300)))

    assert response.status_code == 413
    page = response.content.decode()
    assert "This upload is" in page
    assert "the limit is 2.0\xa0KB" in page
    assert "Nothing was uploaded." in page
    assert not Photo.objects.exists()


def test_no_file_at_all_asks_for_one(logged_in):
    response = logged_in.post("/photos/upload/", {})

    assert response.status_code == 400
    assert errors_of(response) == ["Choose at least one image."]


def test_a_json_client_gets_errors_as_json(logged_in):
    response = upload(logged_in, ("bad.jpg", b"nope"), json=True)

    assert response.status_code == 400
    assert response.json()["errors"]["images"][0].startswith("bad.jpg ")


def post_raw_filename(client, filename, data):
    """POST one file under `filename` byte for byte: the test client would send only its
    basename, so the multipart body is written here."""
    boundary = "raw-upload-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="images"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/photos/upload/", body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def stored_keys(store, prefix=""):
    folders, files = store.listdir(prefix)
    keys = [f"{prefix}{name}" for name in files]
    for folder in folders:
        keys += stored_keys(store, f"{prefix}{folder}/")
    return sorted(keys)


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        # Django's parser drops the path; the app drops what is unsafe to show.
        ("../../etc/pass wd;<b>.jpg", "pass_wdb.jpg"),
        ("..\\..\\win.ini&.jpg", "win.ini.jpg"),
        # Django keeps 255 characters; the app shows the last 200 (the column's size).
        ("a" * 300 + ".jpg", "a" * 196 + ".jpg"),
    ],
)
def test_a_client_filename_is_shown_sanitized_and_never_becomes_a_storage_key(
    logged_in, alice, run_jobs, sent, shown, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    from uploads.storage import photo_storage

    with django_capture_on_commit_callbacks(execute=True):
        response = post_raw_filename(logged_in, sent, jpeg())

    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.original_name == shown
    assert stored_keys(default_storage) == [f"originals/{photo.id}.jpg"]

    run_jobs()

    photo.refresh_from_db()
    assert photo.status == "ready"
    assert stored_keys(photo_storage()) == sorted(
        f"photos/{alice.id}/{photo.id}/{name}.{variant['ext']}"
        for name, variant in photo.variants.items()
    )
    assert f">{shown}</a>" in logged_in.get(f"/photos/batch/{photo.batch}/").content.decode()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.jpg", "....etcpasswd.jpg"),
        ("evil\x00.jpg", "evil.jpg"),
        ("a" * 300 + ".jpg", "a" * 196 + ".jpg"),
        ("<>", "unnamed"),  # nothing is left once cleaned
    ],
)
def test_the_app_does_not_rely_on_django_to_have_cleaned_the_name(
    alice, name, shown, django_capture_on_commit_callbacks
):
    """Names Django's parser would never pass on: the form and upload service alone
    still show them sanitized and key the stored original by the photo's id."""
    from django.core.files.storage import default_storage
    from django.utils.datastructures import MultiValueDict

    from uploads.forms import UploadForm
    from uploads.services import photos_upload

    file = SimpleUploadedFile("placeholder.jpg", jpeg(), content_type="image/jpeg")
    file._name = name  # past UploadedFile's own basename step
    form = UploadForm(data={}, files=MultiValueDict({"images": [file]}))

    assert form.is_valid(), form.errors
    with django_capture_on_commit_callbacks(execute=False):
        [photo] = photos_upload(owner=alice, images=form.cleaned_data["images"])

    assert Photo.objects.get(pk=photo.pk).original_name == shown
    assert stored_keys(default_storage) == [f"originals/{photo.id}.jpg"]


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


def test_the_format_comes_from_the_file_never_from_its_name_or_declared_type(
    logged_in, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    disguised = SimpleUploadedFile("holiday.jpg", png(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post("/photos/upload/", {"images": [disguised]})

    photo = Photo.objects.get()
    assert (photo.original_format, photo.original_ext) == ("PNG", "png")
    assert default_storage.exists(f"originals/{photo.id}.png")


def test_html_declared_as_a_jpeg_is_refused(logged_in):
    page = SimpleUploadedFile(
        "photo.jpg", b"<html><script>alert(1)</script></html>", content_type="image/jpeg"
    )

    response = logged_in.post("/photos/upload/", {"images": [page]})

    assert response.status_code == 400
    assert errors_of(response) == ["photo.jpg is not an image we can read"]


def test_a_truncated_photo_passes_the_request_because_only_its_header_is_checked(
    logged_in, django_capture_on_commit_callbacks
):
    whole = jpeg(400, 300, color=(9, 9, 9))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(logged_in, ("cut.jpg", whole[: len(whole) - 200]))

    assert response.status_code == 302  # its resize job refuses it: see test_bad_originals.py
    assert Photo.objects.get().original_name == "cut.jpg"


def test_a_large_upload_is_staged_from_its_temporary_file_not_read_into_memory(
    alice, settings, django_capture_on_commit_callbacks
):
    import tracemalloc

    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import TemporaryUploadedFile
    from django.utils.datastructures import MultiValueDict

    from uploads.forms import UploadForm
    from uploads.services import photos_upload

    settings.UPLOAD_MAX_FILE_BYTES = 20_000_000
    data = jpeg() + b"\0" * 8_000_000  # a valid header; decoders ignore what trails
    file = TemporaryUploadedFile("big.jpg", "image/jpeg", len(data), None)
    for start in range(0, len(data), 1 << 20):
        file.write(data[start : start + (1 << 20)])
    file.seek(0)
    form = UploadForm(data={}, files=MultiValueDict({"images": [file]}))

    tracemalloc.start()
    try:
        assert form.is_valid(), form.errors
        with django_capture_on_commit_callbacks(execute=False):
            [photo] = photos_upload(owner=alice, images=form.cleaned_data["images"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    file.close()  # as Django closes the request's files: it was moved, so nothing to delete

    assert peak < 1_000_000, f"{peak} bytes were held at once"
    assert photo.size_bytes == len(data)
    with default_storage.open(f"originals/{photo.id}.jpg") as stored:
        assert stored.read() == data
