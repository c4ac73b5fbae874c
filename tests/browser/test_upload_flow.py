"""A person uploads phone-sized photos in a real browser and watches them become ready."""

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.pages import log_in
from tests.s3 import BUCKET
from uploads.models import Photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def phone_jpeg(path, *, rotated):
    """A 12-megapixel JPEG with GPS in its EXIF; `rotated` stores it sideways (orientation 6)."""
    image = Image.new("RGB", (4000, 3000), (40, 90, 160))
    image.paste((220, 40, 40), (0, 0, 2000, 3000))  # red left half, to see the rotation
    exif = Image.Exif()
    exif[ORIENTATION] = 6 if rotated else 1
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 22.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)})
    image.save(path, "JPEG", quality=90, exif=exif)
    return path


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_uploaded_photos_show_live_progress_then_upright_thumbnails_without_gps(
    live_server, page, alice, worker_process, tmp_path, request, where
):
    extra_env = {}
    if where == "s3":
        s3 = request.getfixturevalue("s3")
        endpoint = request.getfixturevalue("s3_endpoint")
        extra_env = {
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": endpoint.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_S3_REGION_NAME": "us-east-1",
        }
    worker_process(extra_env=extra_env)
    files = [
        phone_jpeg(tmp_path / "sideways.jpg", rotated=True),
        phone_jpeg(tmp_path / "level.jpg", rotated=False),
        phone_jpeg(tmp_path / "third.jpg", rotated=False),
    ]
    log_in(page, live_server, alice)

    page.goto(f"{live_server.url}/photos/upload/")
    page.set_input_files("input[name=images]", [str(path) for path in files])
    page.click("main button[type=submit]")

    expect(page).to_have_url(re.compile(r"/photos/batch/[0-9a-f-]{36}/$"))
    page.evaluate("window.__sameDocument = true")
    cards = page.locator("[data-photo]")
    expect(cards).to_have_count(3)
    for index in range(3):
        expect(cards.nth(index).locator("[data-field=stage]")).to_have_text("Done", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True

    sideways = Photo.objects.get(original_name="sideways.jpg")
    thumb = page.locator(f'[data-photo="{sideways.id}"] img')
    expect(thumb).to_be_visible()
    # decode() waits until the image has loaded; the src is set by the polling script.
    natural = thumb.evaluate(
        "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])"
    )
    assert natural == [240, 320]  # portrait: the EXIF rotation was applied

    response = page.request.get(f"{live_server.url}/photos/{sideways.id}/large/")
    assert response.ok
    stored = Image.open(io.BytesIO(response.body()))
    assert stored.size == (1200, 1600)
    assert not stored.getexif()  # no orientation, no GPS: nothing survives
    assert stored.getpixel((600, 10))[0] > 180  # the red half is now on top
    if where == "s3":
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert len(keys) == 9


def test_an_oversized_upload_shows_the_413_page_not_a_server_error(
    live_server, page, alice, tmp_path, settings
):
    settings.UPLOAD_MAX_REQUEST_BYTES = 100_000  # the live server runs in this process
    photo = phone_jpeg(tmp_path / "big.jpg", rotated=False)
    assert photo.stat().st_size > 100_000
    log_in(page, live_server, alice)

    page.goto(f"{live_server.url}/photos/upload/")
    page.set_input_files("input[name=images]", [str(photo)])
    with page.expect_response(re.compile(r"/photos/upload/$")) as reply:
        page.click("main button[type=submit]")

    assert reply.value.status == 413
    refused = page.locator("[data-upload-refused]")
    expect(refused).to_contain_text(re.compile(r"This upload is [\d.]+\xa0KB; the limit is"))
    expect(refused).to_contain_text("Nothing was uploaded.")
    expect(page.locator("input[name=images]")).to_be_visible()  # choose again, right here
    assert not Photo.objects.exists()


def test_a_mixed_upload_names_the_refused_file_and_the_good_ones_not_uploaded(
    live_server, page, alice, tmp_path
):
    good = phone_jpeg(tmp_path / "good.jpg", rotated=False)
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a photo at all")
    log_in(page, live_server, alice)

    page.goto(f"{live_server.url}/photos/upload/")
    page.set_input_files("input[name=images]", [str(good), str(fake)])
    with page.expect_response(re.compile(r"/photos/upload/$")) as reply:
        page.click("main button[type=submit]")

    assert reply.value.status == 400
    expect(page.locator("[data-field=refused]")).to_have_text("notes.jpg")
    expect(page.locator("[data-field=message]")).to_have_text(
        "Nothing was uploaded. good.jpg passed every check but was not uploaded either: "
        "choose it again without the refused files."
    )
    expect(page.locator(".field .errors")).to_contain_text("notes.jpg is not an image we can read")
    assert not Photo.objects.exists()


def test_a_photo_whose_data_is_cut_short_fails_at_once_with_a_plain_message(
    live_server, page, alice, worker_process, tmp_path
):
    worker_process()  # a real forking worker: Permanent must stop RQ's retries there too
    whole = phone_jpeg(tmp_path / "whole.jpg", rotated=False).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) // 3])  # the header is whole: the request takes it
    log_in(page, live_server, alice)

    page.goto(f"{live_server.url}/photos/upload/")
    page.set_input_files("input[name=images]", [str(cut)])
    page.click("main button[type=submit]")

    expect(page).to_have_url(re.compile(r"/photos/batch/[0-9a-f-]{36}/$"))
    expect(page.locator("[data-photo] [data-field=stage]")).to_have_text(
        "Failed: This file could not be read as an image: it is truncated or corrupt.",
        timeout=30_000,
    )
    resize = Photo.objects.get().resize_job
    resize.refresh_from_db()
    assert (resize.status, resize.attempts, resize.max_attempts) == ("failed", 1, 3)
