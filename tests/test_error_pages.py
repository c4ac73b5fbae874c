"""400, 403, 404, 405, 413 and 500 in the site's layout; JSON errors for JSON URLs.

Django uses the site's handlers only with DEBUG off, as in these tests (pytest-django
turns DEBUG off).
"""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from jobs.models import JobRecord
from tests.factories import make_photo

pytestmark = pytest.mark.django_db

LAYOUT = '<a class="brand" href="/">Photo site</a>'


def assert_site_page(response, status, template):
    assert response.status_code == status
    assert template in [t.name for t in response.templates]
    assert LAYOUT in response.content.decode()


def assert_json_error(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"error"}
    return response.json()["error"]


def test_an_unknown_page_is_a_404_in_the_sites_layout(client, alice):
    client.force_login(alice)

    response = client.get("/no/such/page/")

    assert_site_page(response, 404, "404.html")
    assert 'href="/photos/"' in response.content.decode()  # the signed-in header


@pytest.mark.parametrize(
    "url",
    [
        "/jobs/{random}.json",
        "/photos/{random}.json",
        "/photos/batch/{random}.json",
        "/jobs/not-a-uuid.json",  # no URL pattern matches at all
        "/no/such/thing.json",
    ],
)
def test_a_404_under_a_json_url_is_json(client, alice, url):
    client.force_login(alice)

    response = client.get(url.format(random=uuid.uuid4()))

    assert assert_json_error(response, 404) == "There is nothing here."


def test_a_client_that_asks_for_json_gets_a_json_404(client, alice):
    client.force_login(alice)

    response = client.get(f"/photos/{uuid.uuid4()}/", headers={"Accept": "application/json"})

    assert_json_error(response, 404)


def test_a_404_for_someone_elses_json_says_nothing_about_it(client, alice, bob):
    record = JobRecord.objects.create(kind="send_welcome_email", owner=alice, func="x.y")
    client.force_login(bob)

    response = client.get(f"/jobs/{record.id}.json")

    assert assert_json_error(response, 404) == "There is nothing here."
    assert "JobRecord" not in response.content.decode()


def test_a_signed_in_person_who_is_not_staff_gets_a_styled_403_on_ops(client, bob):
    client.force_login(bob)

    response = client.get(reverse("ops:dashboard"))

    assert_site_page(response, 403, "403.html")
    assert "Not allowed" in response.content.decode()


def test_a_json_client_that_is_not_allowed_gets_a_json_403(client, bob):
    client.force_login(bob)

    response = client.get(reverse("ops:dashboard"), headers={"Accept": "application/json"})

    assert_json_error(response, 403)


@pytest.mark.parametrize("token", [None, "a" * 32], ids=["missing", "wrong"])
def test_a_form_without_a_good_csrf_token_gets_a_friendly_403(alice, token):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(reverse("accounts:profile"))  # sets the CSRF cookie, as a browser would have
    data = {"digest_opt_in": "on"} | ({"csrfmiddlewaretoken": token} if token else {})

    response = client.post(reverse("accounts:profile"), data)

    assert_site_page(response, 403, "403_csrf.html")
    assert "reload the page and send the form again" in response.content.decode()


def test_a_post_without_any_csrf_cookie_gets_the_same_friendly_403():
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("accounts:login"), {"username": "a", "password": "b"})

    assert_site_page(response, 403, "403_csrf.html")


def test_a_json_client_failing_the_csrf_check_gets_json(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(reverse("uploads:upload"), headers={"Accept": "application/json"})

    assert "form could not be checked" in assert_json_error(response, 403)


def test_the_real_token_still_passes_the_csrf_check(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(reverse("accounts:profile"))
    token = client.cookies["csrftoken"].value

    response = client.post(reverse("accounts:profile"), {"csrfmiddlewaretoken": token})

    assert response.status_code == 302


@pytest.fixture
def alices_photo(alice):
    return make_photo(alice)


@pytest.mark.parametrize(
    "url",
    ["/accounts/logout/", "/accounts/digest/run/", "/photos/{photo}/retry/"],
)
def test_a_get_where_a_post_belongs_gets_a_styled_405_and_changes_nothing(
    client, staff, url, alice, alices_photo
):
    client.force_login(staff if "digest" in url else alice)

    response = client.get(url.format(photo=alices_photo.id))

    assert_site_page(response, 405, "405.html")
    assert "POST" in response["Allow"]
    assert "use the button on the page" in response.content.decode()
    assert "_auth_user_id" in client.session  # still logged in
    assert not JobRecord.objects.exists()


def test_a_bad_method_on_a_json_url_gets_a_json_405(client, alice):
    record = JobRecord.objects.create(kind="send_welcome_email", owner=alice, func="x.y")
    client.force_login(alice)

    response = client.put(f"/jobs/{record.id}.json")

    assert_json_error(response, 405)
    assert response["Allow"] == "GET, HEAD"


def test_a_request_for_another_host_is_a_400_in_the_sites_layout(client):
    response = client.get("/", headers={"Host": "attacker.example"})

    assert_site_page(response, 400, "400.html")


def test_a_form_body_over_djangos_limit_is_a_413_in_the_sites_layout(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = client.post(reverse("accounts:login"), {"username": "a" * 2000, "password": "b"})

    assert_site_page(response, 413, "413.html")


@pytest.fixture
def crashing_client(alice, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom at https://internal.example:9000/secret-bucket")

    monkeypatch.setattr("jobs.views.jobs_for_user", crash)
    monkeypatch.setattr("jobs.views.job_get_for_user", crash)
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    return client


def test_a_server_error_is_a_500_in_the_sites_layout_without_the_exception(crashing_client):
    response = crashing_client.get(reverse("jobs:list"))

    assert_site_page(response, 500, "500.html")
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "internal.example" not in page and "RuntimeError" not in page


def test_a_server_error_under_a_json_url_is_json(crashing_client):
    response = crashing_client.get(f"/jobs/{uuid.uuid4()}.json")

    assert "Something went wrong on our side" in assert_json_error(response, 500)
    assert "internal.example" not in response.content.decode()
