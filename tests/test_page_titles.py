"""Every page's <title> names the page, then the site, once."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "signed_in"),
    [
        ("/", False),
        ("/", True),
        (reverse("accounts:login"), False),
        (reverse("accounts:signup"), False),
        (reverse("jobs:list"), True),
    ],
)
def test_the_title_names_the_page_then_the_site_once(client, alice, url, signed_in):
    if signed_in:
        client.force_login(alice)

    html = client.get(url).content.decode()

    (title,) = re.findall(r"<title>(.*?)</title>", html, re.S)
    page, site = title.rsplit(" · ", 1)
    assert site == "Photo site"
    assert page.strip()
    assert "Photo site" not in page


def test_every_page_has_a_favicon_that_the_site_serves(client):
    from pathlib import Path

    from django.contrib.staticfiles import finders
    from django.templatetags.static import static

    html = client.get("/").content.decode()

    (href,) = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    assert href == static("img/favicon.svg")
    assert Path(finders.find("img/favicon.svg")).read_text().startswith("<svg")
