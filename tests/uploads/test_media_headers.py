"""Media is served as the type we made it, with nosniff, never as HTML, and with a
Content-Disposition whose file name is plain ASCII."""

import urllib.request

import pytest
from django.core.files.base import ContentFile

from tests.factories import make_photo
from uploads import storage

pytestmark = pytest.mark.django_db


def published(owner, *, name="photo.jpg", ext="jpg", content_type="image/jpeg", data=b"x"):
    photo = make_photo(
        owner,
        original_name=name,
        variants={"large": {"width": 1, "height": 1, "content_type": content_type, "ext": ext}},
    )
    photo.published_at = photo.created_at
    photo.save()
    storage.photo_storage().save(storage.published_key(photo, "large"), ContentFile(data))
    return photo


def test_a_variant_file_is_sent_with_its_type_nosniff_and_an_inline_ascii_name(
    client, alice, settings
):
    settings.SECURE_CONTENT_TYPE_NOSNIFF = False  # the view says nosniff itself
    client.force_login(alice)
    photo = published(alice, name='Ünïcode "holiday"\r\n<script>.jpg')

    response = client.get(f"/photos/{photo.id}/large/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="Unicode-holiday-script-large.jpg"'


def test_a_variant_never_goes_out_as_html_whatever_its_row_says(client, alice):
    client.force_login(alice)
    photo = published(alice, ext="webp", content_type="text/html", data=b"<script>")

    response = client.get(f"/photos/{photo.id}/large/")

    assert response["Content-Type"] == "image/webp"  # from our extension, not the row's text
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_variant_whose_extension_is_not_ours_is_sent_as_bytes_to_download(client, alice):
    client.force_login(alice)
    photo = published(alice, ext="html", content_type="text/html", data=b"<script>")

    response = client.get(f"/photos/{photo.id}/large/")

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="photo-large.html"'


def test_a_photo_whose_name_has_no_ascii_still_gets_a_file_name():
    class Row:
        original_name = "日本.jpg"  # nothing of it survives as ASCII
        variants = {"thumb": {"ext": "jpg"}}

    assert storage.variant_filename(Row, "thumb") == "photo-thumb.jpg"


def test_an_s3_variant_redirects_to_a_url_that_makes_s3_send_our_type_and_name(
    client, alice, s3, settings
):
    settings.SECURE_CONTENT_TYPE_NOSNIFF = False
    client.force_login(alice)
    photo = published(alice, name="beach day.jpg", data=b"\xff\xd8 not really a jpeg")

    response = client.get(f"/photos/{photo.id}/large/")

    assert response.status_code == 302
    assert response["X-Content-Type-Options"] == "nosniff"
    with urllib.request.urlopen(response.url) as fetched:
        assert fetched.headers["Content-Type"] == "image/jpeg"
        assert fetched.headers["Content-Disposition"] == ('inline; filename="beach-day-large.jpg"')


def test_a_published_s3_object_is_stored_with_the_type_we_made_it_as(alice, s3):
    from django.core.files.storage import default_storage

    from tests.s3 import BUCKET

    photo = make_photo(
        alice, variants={"thumb": {"width": 1, "height": 1, "content_type": "x", "ext": "webp"}}
    )
    default_storage.save(storage.staged_key(photo, "thumb"), ContentFile(b"RIFF"))

    storage.publish_variant(photo, "thumb")

    head = s3.head_object(Bucket=BUCKET, Key=storage.published_key(photo, "thumb"))
    assert head["ContentType"] == "image/webp"
