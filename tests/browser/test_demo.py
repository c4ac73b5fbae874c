"""/demo/difference/ in a real browser: the inline run takes longer than the queued one."""

import pytest
from playwright.sync_api import expect

from tests.browser.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_inline_run_is_slower_than_the_queued_one(
    live_server, page, worker_process, alice, screenshot
):
    worker_process()
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/demo/difference/")

    inline = page.locator("section", has=page.locator("#inline-heading"))
    queued = page.locator("section", has=page.locator("#queued-heading"))
    inline.get_by_role("button").click()
    expect(inline.locator("[data-field=client_ms]")).not_to_have_text("-")
    queued.get_by_role("button").click()
    expect(queued.locator("[data-field=job_url]")).to_be_visible()

    def number(section, field):
        return float(section.locator(f"[data-field={field}]").inner_text())

    assert number(inline, "server_ms") > number(queued, "server_ms")
    assert number(inline, "client_ms") > number(queued, "client_ms")
    screenshot("see-the-difference", docs=True)
