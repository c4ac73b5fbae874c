"""While a photo is processing, its card shows a placeholder, not a broken image."""

import pytest
from playwright.sync_api import expect

from tests.browser.pages import log_in
from tests.factories import make_photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_processing_photo_has_no_broken_image_icon(page, live_server, alice):
    photo = make_photo(alice)  # processing: no worker runs in this test
    log_in(page, live_server, alice)

    page.goto(f"{live_server.url}/photos/batch/{photo.batch}/")

    card = page.locator(f"[data-photo='{photo.id}']")
    expect(card.locator("[data-field=stage]")).to_be_visible()
    thumb = card.locator("img[data-field=thumb]")
    expect(thumb).to_have_attribute("hidden", "")
    expect(thumb).to_be_hidden()  # `hidden` wins over the gallery's display: block
