"""The pages people use fit a phone's screen: nothing runs off it sideways."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.pages import log_in
from tests.jobs import tasks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 740}


@pytest.fixture
def page(browser):
    """A phone-sized page; the screenshot fixture takes this one too."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def assert_fits(page):
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]"
    )
    assert widths[0] <= widths[1], f"the page is {widths[0]}px wide on a {widths[1]}px screen"
    assert widths[2] <= widths[1]


def link_boxes(page, selector):
    boxes = [link.bounding_box() for link in page.locator(selector).all()]
    assert boxes
    return boxes


def assert_links_wrap_on_screen(page, selector):
    """Every link is inside the screen, on more than one row."""
    boxes = link_boxes(page, selector)
    for box in boxes:
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
    assert len({round(box["y"]) for box in boxes}) > 1


def test_the_public_pages_fit_a_phone(live_server, page, screenshot):
    page.goto(f"{live_server.url}/")
    assert_fits(page)
    screenshot("phone-home", docs=True)

    page.goto(f"{live_server.url}/accounts/signup/")
    assert_fits(page)
    for field in page.locator("main form input:not([type=hidden])").all():
        label = page.locator(f"label[for='{field.get_attribute('id')}']")
        expect(label).to_have_count(1)  # every field has its label
    screenshot("phone-signup", docs=True)


def test_the_signed_in_pages_and_the_ops_console_fit_a_phone(
    live_server, page, staff, enqueue, screenshot
):
    for i in range(3):
        enqueue(tasks.fail_times, f"phone-{i}-" + "x" * 40, 0, owner=staff)
    log_in(page, live_server, staff, "correct horse 3")

    assert_fits(page)  # My jobs, where the login lands
    expect(page.locator(".table-wrap table")).to_be_visible()
    assert_links_wrap_on_screen(page, "header.top a, header.top button")
    screenshot("phone-my-jobs", docs=True)

    page.goto(f"{live_server.url}/photos/upload/")
    assert_fits(page)
    expect(page.get_by_label("Images")).to_be_attached()
    screenshot("phone-upload", docs=True)

    page.goto(f"{live_server.url}/ops/")
    assert_fits(page)
    assert_links_wrap_on_screen(page, "nav.ops-tabs a")
    # The tables are wider than the screen: they scroll in their wrapper, not the page.
    wrappers = page.locator(".table-wrap, .table-scroll")
    assert wrappers.count() > 0
    for wrapper in wrappers.all():
        assert wrapper.evaluate("el => el.getBoundingClientRect().right") <= PHONE["width"]
    screenshot("phone-ops", docs=True)


def test_the_skip_link_is_the_first_stop_and_focus_is_visible(live_server, page):
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")

    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert skip.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    assert page.evaluate("document.documentElement.lang") == "en"


# The text colours of static/css/site.css and the backgrounds each is used on.
PAIRS = [
    ("--ink", "#fafafa"),
    ("--ink", "#ffffff"),
    ("--muted", "#fafafa"),
    ("--muted", "#ffffff"),
    ("--muted", "--line"),  # the gallery's placeholder
    ("--accent", "#fafafa"),
    ("--accent", "#dbeafe"),  # .status-started
    ("--good", "#dcfce7"),  # .status-finished, .status-running
    ("--bad", "#fee2e2"),  # .status-failed
    ("--bad", "#fef2f2"),  # .flash.error, pre.error
    ("--accent", "#eff6ff"),  # a link in a .flash
    ("#92400e", "#fef3c7"),  # .status-retrying and friends
    ("#ffffff", "--accent"),  # a button
    ("#ffffff", "--bad"),  # a danger button
    ("--ink", "--line"),  # a plain .status pill
]


def luminance(color):
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_the_text_colours_meet_wcag_aa_contrast():
    css = (Path(settings.BASE_DIR) / "static" / "css" / "site.css").read_text()
    variables = dict(re.findall(r"(--[a-z]+):\s*(#[0-9a-f]{6})", css))

    for text, background in PAIRS:
        lighter, darker = sorted(
            (luminance(variables.get(c, c)) for c in (text, background)), reverse=True
        )
        ratio = (lighter + 0.05) / (darker + 0.05)
        assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f}:1"
