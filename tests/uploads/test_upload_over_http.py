"""Upload limits through the whole middleware stack, with CSRF checked as in production.

Django's test client skips CSRF checks by default, and that hid a 500: CsrfViewMiddleware
reads request.POST before the view runs, so whatever the upload handlers do to an
oversized body happens there. These tests send real HTTP to a live server, with the CSRF
cookie and the form's token as a browser sends them, or use a client that enforces CSRF.
"""

import http.client
import json
import re
import uuid
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from jobs.models import JobRecord
from tests.factories import jpeg
from uploads.models import Photo

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Visitor:
    """A browser without a browser: cookies, CSRF tokens and multipart bodies by hand."""

    def __init__(self, base_url):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies = {}

    def request(self, method, path, body=b"", headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        connection.request(method, path, body=body, headers={"Cookie": cookie, **(headers or {})})
        response = connection.getresponse()
        content = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value).values():
                    self.cookies[morsel.key] = morsel.value
        connection.close()
        return response.status, dict(response.getheaders()), content

    def token(self, path):
        status, _, page = self.request("GET", path)
        assert status == 200, page
        return TOKEN.search(page.decode()).group(1)

    def log_in(self, username, password):
        token = self.token("/accounts/login/")
        body = f"csrfmiddlewaretoken={token}&username={username}&password={password}".encode()
        status, _, _ = self.request(
            "POST",
            "/accounts/login/",
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 302, "the login failed"

    def upload(self, files, *, token=None, json_reply=False, path="/photos/upload/"):
        token = token or self.token("/photos/upload/")
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"'
            f"\r\n\r\n{token}\r\n".encode()
        ]
        for name, data in files:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="images"; '
                f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if json_reply:
            headers["Accept"] = "application/json"
        return self.request("POST", path, b"".join(parts), headers)


@pytest.fixture
def visitor(live_server, alice):
    visitor = Visitor(live_server.url)
    visitor.log_in("alice", "correct horse 1")
    return visitor


@pytest.fixture
def small_limit(settings):
    settings.UPLOAD_MAX_REQUEST_BYTES = 50_000
    return settings.UPLOAD_MAX_REQUEST_BYTES


def noise(size):
    return bytes(range(256)) * (size // 256)


def test_an_oversized_upload_gets_the_413_page_through_the_csrf_checked_stack(visitor, small_limit):
    status, headers, page = visitor.upload([("big.jpg", noise(200_000))])

    assert status == 413
    assert headers["Content-Type"].startswith("text/html")
    text = page.decode()
    assert re.search(r"This upload is 195\.\d\xa0KB; the limit is 48\.8\xa0KB\.", text)
    assert "Nothing was uploaded." in text
    assert 'name="images"' in text  # the form, to try again
    assert not Photo.objects.exists()
    assert not JobRecord.objects.exists()


def test_an_oversized_upload_gets_413_json_through_the_csrf_checked_stack(visitor, small_limit):
    status, headers, body = visitor.upload([("big.jpg", noise(200_000))], json_reply=True)

    assert status == 413
    assert headers["Content-Type"] == "application/json"
    reply = json.loads(body)
    [error] = reply["errors"]["images"]
    assert re.fullmatch(r"This upload is 195\.\d\xa0KB; the limit is 48\.8\xa0KB\.", error)
    assert reply["message"] == "Nothing was uploaded."
    assert (reply["refused"], reply["valid"]) == ([], [])


def test_an_oversized_file_under_the_request_limit_gets_413_through_the_stack(visitor, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1000
    big = jpeg(300, 300, color=(1, 2, 3))

    status, _, body = visitor.upload([("big.jpg", big), ("small.jpg", jpeg(8, 8))], json_reply=True)

    assert status == 413
    reply = json.loads(body)
    assert [item["name"] for item in reply["refused"]] == ["big.jpg"]
    assert reply["valid"] == ["small.jpg"]
    assert not Photo.objects.exists()


def test_a_good_upload_passes_the_csrf_check_over_http(visitor):
    status, headers, _ = visitor.upload([("a.jpg", jpeg())])

    photo = Photo.objects.get()
    assert status == 302
    assert headers["Location"] == f"/photos/batch/{photo.batch}/"


def test_an_upload_without_the_csrf_token_is_forbidden(visitor):
    status, _, _ = visitor.upload([("a.jpg", jpeg())], token="not-the-token" * 4)

    assert status == 403
    assert not Photo.objects.exists()


def test_an_anonymous_oversized_upload_is_sent_to_log_in_not_a_500(live_server, small_limit):
    visitor = Visitor(live_server.url)
    token = visitor.token("/accounts/login/")

    status, headers, _ = visitor.upload([("big.jpg", noise(200_000))], token=token)

    assert status == 302
    assert headers["Location"].startswith("/accounts/login/")


def test_an_oversized_multipart_post_to_another_page_is_no_500(visitor, small_limit):
    token = visitor.token("/accounts/profile/")

    status, _, _ = visitor.upload(
        [("big.jpg", noise(200_000))], token=token, path="/accounts/profile/"
    )

    assert status < 500


# The same through Django's test client, with CSRF enforced as the live server does.


@pytest.fixture
def csrf_client(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def post_with_token(client, files, **headers):
    page = client.get("/photos/upload/").content.decode()
    token = TOKEN.search(page).group(1)
    from django.core.files.uploadedfile import SimpleUploadedFile

    images = [SimpleUploadedFile(name, data) for name, data in files]
    return client.post(
        "/photos/upload/", {"csrfmiddlewaretoken": token, "images": images}, **headers
    )


def test_a_csrf_enforcing_client_gets_413_for_an_oversized_upload(csrf_client, small_limit):
    response = post_with_token(csrf_client, [("big.jpg", noise(200_000))])

    assert response.status_code == 413
    assert "the limit is 48.8\xa0KB" in response.content.decode()


def test_without_the_middleware_the_upload_handler_still_leads_to_a_413_not_a_500(
    alice, small_limit, settings
):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.startswith("uploads.")]
    client = Client(enforce_csrf_checks=True)  # built after the change: loads that stack
    client.force_login(alice)

    response = post_with_token(
        client, [("big.jpg", noise(200_000))], HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 413
    assert response.json()["errors"]["images"][0].startswith("This upload is 195.")
    assert not Photo.objects.exists()


def oversized_request(alice, size):
    from django.test import RequestFactory

    request = RequestFactory().generic(
        "POST", "/photos/upload/", b"x" * size, content_type="multipart/form-data; boundary=b"
    )
    request.user = alice
    return request


def test_the_middleware_reads_the_refused_body_to_its_end_so_browsers_see_the_page(
    alice, small_limit
):
    from uploads.middleware import UploadLimitMiddleware

    request = oversized_request(alice, 3 * small_limit)

    response = UploadLimitMiddleware(lambda request: pytest.fail("the view ran"))(request)

    assert response.status_code == 413
    assert request.read() == b""  # nothing left unread
    assert not hasattr(request, "_files")  # and nothing parsed


def test_the_middleware_leaves_an_absurdly_large_body_unread(alice, small_limit):
    from uploads.middleware import DISCARD_FACTOR, UploadLimitMiddleware

    request = oversized_request(alice, (DISCARD_FACTOR + 1) * small_limit)

    response = UploadLimitMiddleware(lambda request: pytest.fail("the view ran"))(request)

    assert response.status_code == 413
    assert len(request.read()) == (DISCARD_FACTOR + 1) * small_limit


def test_the_site_runs_the_upload_middleware_and_the_skipping_handler_first():
    # The stack the tests above rely on: ours before anything that reads the body
    # in __call__, and CSRF reading it only in process_view.
    assert "uploads.middleware.UploadLimitMiddleware" in settings.MIDDLEWARE
    assert settings.FILE_UPLOAD_HANDLERS[0] == "uploads.handlers.RequestSizeLimitHandler"
