"""The owner's job page in a real browser: the story, the timeline as it runs, and a
scheduled job's live countdown."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts.tasks import send_welcome_email
from tests.browser.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_scheduled_job_counts_down_then_its_timeline_fills_in(
    live_server, page, worker_process, alice, screenshot
):
    worker_process()
    record = send_welcome_email.using(delay=timedelta(seconds=6)).enqueue(alice.pk, owner=alice)
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/jobs/{record.id}/")

    expect(page.locator("h1")).to_have_text("Welcome email")
    expect(page.locator(".countdown")).to_have_text(re.compile(r"^Runs in \d+s"))
    first = page.locator(".countdown").text_content()
    page.wait_for_timeout(1500)
    assert page.locator(".countdown").text_content() != first  # it ticks
    expect(page.locator(".job-status")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_label("Progress")).to_be_visible()

    expect(page.locator("[data-field=status_label]")).to_have_text("Finished", timeout=30_000)
    expect(page.locator(".countdown")).to_be_hidden()
    expect(page.locator('[data-story="timeline"] li', has_text="Finished")).to_have_count(1)
    expect(page.locator('[data-story="ran"]')).to_have_text(re.compile(r"^\d+\.\d{3} s$"))
    expect(page.locator('[data-story="worker"]')).to_have_text(re.compile(r"\w"))
    screenshot("job-page", docs=True)


def test_my_jobs_gains_a_row_for_a_job_created_after_it_loaded_and_follows_it(
    live_server, page, worker_process, alice, screenshot
):
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/jobs/")
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    record = send_welcome_email.enqueue(alice.pk, owner=alice)
    row = page.locator(f'tr[data-job-id="{record.id}"]')
    expect(row.get_by_role("link", name="Welcome email")).to_have_attribute(
        "href", f"/jobs/{record.id}/", timeout=15_000
    )
    expect(page.get_by_text("No jobs yet.")).to_be_hidden()
    expect(row.get_by_label("Progress of Welcome email")).to_be_attached()

    worker_process()
    expect(row.locator("[data-field=status_label]")).to_have_text("Finished", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True
    screenshot("my-jobs")
