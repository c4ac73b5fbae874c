"""A person's "My photos" page turns processing cards into thumbnails as the jobs finish."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import log_in
from tests.browser.test_upload_flow import phone_jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_my_photos_shows_each_thumbnail_when_it_is_ready_without_a_reload(
    live_server, page, alice, worker_process, tmp_path, screenshot
):
    files = [phone_jpeg(tmp_path / f"photo-{i}.jpg", rotated=i == 0) for i in range(4)]
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/photos/upload/")
    page.set_input_files("input[name=images]", [str(path) for path in files])
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/photos/batch/[0-9a-f-]{36}/$"))

    # No worker yet: every card in the gallery is still processing.
    page.goto(f"{live_server.url}/photos/")
    cards = page.locator(".gallery [data-photo]")
    expect(cards).to_have_count(4)
    for index in range(4):
        card = cards.nth(index)
        expect(card.locator("[data-field=placeholder]")).to_be_visible()
        expect(card.locator("img[data-field=thumb]")).to_be_hidden()
    page.evaluate("window.__sameDocument = true")

    worker_process()

    for index in range(4):
        card = cards.nth(index)
        expect(card.locator("[data-field=stage]")).to_have_text("Done", timeout=60_000)
        expect(card.locator("img[data-field=thumb]")).to_be_visible()
        expect(card.locator("[data-field=placeholder]")).to_be_hidden()
        expect(card.locator("progress")).to_be_hidden()
    loaded = page.evaluate(
        "Promise.all([...document.querySelectorAll('.gallery img')].map("
        "img => img.decode().then(() => img.naturalWidth > 0)))"
    )
    assert loaded == [True] * 4
    assert page.evaluate("window.__sameDocument") is True
    screenshot("gallery", docs=True)

    # The sideways photo's own page: its large variant, and its size as it is seen.
    page.locator("figcaption a", has_text="photo-0.jpg").click()
    expect(page).to_have_url(re.compile(r"/photos/[0-9a-f-]{36}/$"))
    large = page.locator("figure.photo-large img")
    natural = large.evaluate(
        "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])"
    )
    assert natural == [1200, 1600]
    expect(page.locator("[data-field=size]")).to_contain_text("3000\N{MULTIPLICATION SIGN}4000")
    screenshot("photo-detail", docs=True)

    page.goto(f"{live_server.url}/")
    screenshot("home", docs=True)
