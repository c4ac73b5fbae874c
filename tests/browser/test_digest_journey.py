"""Staff run the daily digest now from the cron page; a worker sends it; it is in the mailbox."""

import re

import pytest
from playwright.sync_api import expect

from jobs.schedules import register_periodic_jobs
from tests.browser.pages import log_in, mailbox_email
from tests.factories import make_photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_run_the_digest_now_and_the_email_appears_in_the_mailbox(
    live_server, page, staff, alice, worker_process, mailbox, screenshot
):
    make_photo(alice, original_name="beach.jpg")  # news for alice's digest
    register_periodic_jobs()
    worker_process()
    log_in(page, live_server, staff, "correct horse 3")

    page.goto(f"{live_server.url}/ops/cron/")
    row = page.locator("tr", has=page.locator("code", has_text="periodic-send_digests"))
    row.get_by_role("link", name="Run now").click()
    page.get_by_role("button", name="Yes, run it now").click()
    expect(page).to_have_url(re.compile(r"/ops/jobs/[0-9a-f-]{36}/$"))
    expect(page.locator(".flash")).to_contain_text("keeps its schedule")

    digest = mailbox_email(page, live_server, "Your photo site digest for")
    expect(digest.locator("summary")).to_contain_text("alice@example.com")
    expect(digest).to_have_attribute("open", "")  # the newest message is shown open
    expect(digest.locator("pre")).to_contain_text("beach.jpg")
    screenshot("digest-mailbox", docs=True)
