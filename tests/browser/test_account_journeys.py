"""Account journeys in a real browser, with a real worker: a password reset email arrives
in the dev mailbox and its link sets a new password; an account deletion is scheduled,
counts down, and is canceled."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect
from rq.registry import ScheduledJobRegistry

from jobs.models import JobRecord
from tests.browser.pages import log_in, mailbox_email

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_password_reset_email_arrives_and_its_link_sets_a_new_password(
    live_server, page, alice, staff, worker_process, mailbox, screenshot
):
    worker_process()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_role("button", name="Send the reset link").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password_reset/done/")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    log_in(page, live_server, staff, "correct horse 3")  # the mailbox is staff's
    email = mailbox_email(page, live_server, "Reset your password on the photo site")
    expect(email.locator("summary")).to_contain_text("alice@example.com")
    screenshot("password-reset-email", docs=True)
    link = re.search(r"https?://\S+/accounts/reset/\S+/", email.locator("pre").inner_text())[0]

    page.context.clear_cookies()
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password confirmation").fill("a brand new passphrase")
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    log_in(page, live_server, alice, "a brand new passphrase")
    expect(page.get_by_role("link", name="Log in")).to_have_count(0)


def test_an_account_deletion_counts_down_and_can_be_canceled(
    live_server, page, alice, redis, worker_process, screenshot
):
    worker_process()
    log_in(page, live_server, alice, "correct horse 1")
    page.goto(f"{live_server.url}/accounts/profile/")
    page.get_by_role("button", name="Delete my account").click()

    countdown = page.locator("[data-countdown][aria-live=polite] time")
    expect(countdown).to_have_text(re.compile(r"^(30|29) min$"))
    record = JobRecord.objects.get(kind="delete_account", owner=alice)
    expect(countdown).to_have_attribute("datetime", record.run_at.isoformat())
    link = page.get_by_role("link", name="The deletion job's page")
    expect(link).to_have_attribute("href", f"/jobs/{record.id}/")
    screenshot("account-deletion-scheduled", docs=True)

    page.get_by_role("button", name="Cancel deletion").click()
    expect(page.locator(".flash")).to_contain_text("Deletion canceled")
    expect(page.get_by_role("button", name="Delete my account")).to_be_visible()
    assert str(record.id) not in ScheduledJobRegistry("default", connection=redis).get_job_ids()
    record.refresh_from_db()
    assert record.status == "canceled"
    assert get_user_model().objects.filter(pk=alice.pk).exists()
