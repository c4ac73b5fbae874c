"""/demo/live/ in a real browser: a job's card waits in its queue, runs on a worker, and
reaches Done, as a real worker process takes it."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from jobs.demo.tasks import run_demo_step
from tests.browser.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_jobs_card_moves_from_its_queue_to_a_worker_to_done(
    live_server, page, worker_process, alice, screenshot
):
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/demo/live/")
    expect(page.locator("[data-workers-empty]")).to_be_visible()

    # No worker yet: the job waits in its queue.
    record = run_demo_step.enqueue("alice@example.com", owner=alice)
    default = page.locator('[data-queue="default"]')
    card = page.locator(".live-card", has=page.locator(f'a[href="/jobs/{record.id}/"]'))
    expect(default.locator(".live-card")).to_have_count(1)
    expect(default.locator(".live-card")).to_contain_text("Queued")
    expect(default.locator('[data-field="waiting"]')).to_have_text("1 waiting")
    expect(page.locator("[data-live-summary]")).to_have_text(re.compile(r"^1 waiting, 0 running"))
    screenshot("live-queued")

    # A delayed job waits under Requests, saying when it runs.
    later = run_demo_step.using(delay=timedelta(hours=1)).enqueue("x@example.com", owner=alice)
    requests = page.locator('[data-lane="requests"]')
    expect(requests.locator(".live-card")).to_contain_text(f"runs at {later.run_at:%H:%M:%S}")

    # A worker whose step takes 3 s: long enough to see the card inside it.
    worker_process(extra_env={"DEMO_STEP_SECONDS": "3"})
    expect(page.locator("[data-worker] .live-card")).to_contain_text("Running", timeout=30_000)
    expect(page.locator("[data-worker]")).to_contain_text("busy")
    expect(default.locator('[data-field="waiting"]')).to_have_text("0 waiting")
    page.wait_for_timeout(600)  # the card's slide into the worker (0.5 s) is over
    screenshot("live-view", docs=True)

    done = page.locator('[data-lane="done"]')
    expect(done.locator(".live-card")).to_contain_text("Finished", timeout=30_000)
    expect(card).to_have_count(1)  # the same card, moved
    expect(page.locator("[data-live-summary]")).to_have_text(
        "0 waiting, 0 running, 1 finished in the last 5 minutes"
    )

    # At a phone's width the lanes stack, and nothing runs off the screen.
    page.set_viewport_size({"width": 375, "height": 740})
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]}px wide on a {widths[1]}px screen"
    lanes = [page.locator(f"#lane-{name}").bounding_box() for name in ("requests", "done")]
    assert lanes[1]["y"] > lanes[0]["y"]
    screenshot("live-phone")
