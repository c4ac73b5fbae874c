import pytest

from tests.factories import make_photo
from uploads.models import Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_photo(alice):
    from django.utils import timezone

    return make_photo(
        alice,
        original_name="alice.jpg",
        variants={"thumb": {"width": 10, "height": 10, "content_type": "image/jpeg", "ext": "jpg"}},
        published_at=timezone.now(),
    )


URLS = [
    ("get", "/photos/{id}/"),
    ("get", "/photos/{id}.json"),
    ("get", "/photos/{id}/thumb/"),
    ("get", "/photos/batch/{batch}/"),
    ("get", "/photos/batch/{batch}.json"),
    ("post", "/photos/{id}/retry/"),
    ("get", "/photos/{id}/delete/"),
    ("post", "/photos/{id}/delete/"),
]


@pytest.mark.parametrize("persona", ["bob", "staff"], ids=["bob", "charlie (staff)"])
@pytest.mark.parametrize(("method", "url"), URLS)
def test_anyone_else_gets_404_for_everything_of_alices(
    request, client, alices_photo, persona, method, url
):
    client.force_login(request.getfixturevalue(persona))  # staff use /ops/ and the admin

    response = getattr(client, method)(url.format(id=alices_photo.id, batch=alices_photo.batch))

    assert response.status_code == 404
    assert Photo.objects.filter(pk=alices_photo.pk).exists()


def test_bobs_gallery_does_not_show_alices_photo(client, bob, alices_photo):
    client.force_login(bob)
    assert "alice.jpg" not in client.get("/photos/").content.decode()


@pytest.mark.parametrize(("method", "url"), URLS)
def test_anonymous_visitors_are_sent_to_log_in(client, alices_photo, method, url):
    response = getattr(client, method)(url.format(id=alices_photo.id, batch=alices_photo.batch))

    assert response.status_code == 302
    assert "/accounts/login/" in response.url


def test_an_unknown_size_is_404(client, alice, alices_photo):
    client.force_login(alice)
    assert client.get(f"/photos/{alices_photo.id}/huge/").status_code == 404
