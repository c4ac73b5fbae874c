"""A person signs up in a real browser, watches their welcome email's job finish, and the
email is in the development mailbox (/dev/mail/)."""

import re

import pytest
from playwright.sync_api import expect

from jobs.models import JobRecord
from tests.browser.pages import log_in, mailbox_email

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signup_lands_on_the_job_page_it_finishes_and_the_email_is_in_the_mailbox(
    live_server, browser, page, worker_process, mailbox, staff
):
    worker_process()
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=email]", "erin@example.com")
    page.fill("input[name=password1]", "a long enough passphrase")
    page.fill("input[name=password2]", "a long enough passphrase")
    page.click("button[type=submit]")

    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    expect(page.locator("[data-field=status_label]")).to_have_text("Finished", timeout=20_000)
    expect(page.locator("progress")).to_have_attribute("value", "100")
    assert page.evaluate("window.__sameDocument") is True

    record = JobRecord.objects.get(kind="send_welcome_email")
    assert record.status == "finished"
    mail = list(mailbox.glob("*.log"))
    assert len(mail) == 1
    assert "erin@example.com" in mail[0].read_text()

    staff_page = browser.new_context().new_page()  # the mailbox is staff's
    log_in(staff_page, live_server, staff)
    email = mailbox_email(staff_page, live_server, "Welcome to the photo site")
    expect(email.locator("summary")).to_contain_text("erin@example.com")
    staff_page.context.close()


def test_bad_signup_input_shows_the_errors_in_the_form(live_server, page):
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=email]", "not an email")
    page.fill("input[name=password1]", "short")
    page.fill("input[name=password2]", "different")
    page.click("button[type=submit]")

    expect(page.locator(".errors").first).to_be_visible()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    assert not JobRecord.objects.exists()
