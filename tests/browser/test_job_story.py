"""The owner's job page in a real browser: the story, the timeline as it runs, and a
scheduled job's live countdown."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts.tasks import send_welcome_email

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_scheduled_job_counts_down_then_its_timeline_fills_in(
    live_server, page, worker_process, alice, screenshot
):
    worker_process()
    record = send_welcome_email.using(delay=timedelta(seconds=6)).enqueue(alice.pk, owner=alice)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct horse 1")
    page.click("button[type=submit]")
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
