"""The gallery's polling JSON: the photos asked for, and only the asker's own."""

import pytest

from tests.factories import make_photo

pytestmark = pytest.mark.django_db


def test_it_answers_with_the_asked_photos_of_their_owner_only(client, alice, bob):
    mine, other = make_photo(alice), make_photo(alice)
    theirs = make_photo(bob)
    client.force_login(alice)

    response = client.get(
        "/photos/status.json",
        {"photo": [str(mine.id), str(theirs.id), "not-a-uuid"]},
    )

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    data = response.json()
    assert [photo["id"] for photo in data["photos"]] == [str(mine.id)]
    assert str(other.id) not in response.content.decode()
    assert data["photos"][0]["url"] == f"/photos/{mine.id}/"


def test_it_needs_a_login(client, alice):
    photo = make_photo(alice)

    response = client.get("/photos/status.json", {"photo": str(photo.id)})

    assert response.status_code == 302
