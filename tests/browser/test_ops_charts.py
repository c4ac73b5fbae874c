"""Staff watch the ops dashboard's charts move while a real worker runs jobs."""

import pytest
from playwright.sync_api import expect

from jobs import stats
from tests.browser.pages import log_in
from tests.jobs import tasks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_finished_figure_rises_without_a_reload_as_a_worker_runs_jobs(
    live_server, page, staff, enqueue, worker_process
):
    stats._pending.take()  # counts an earlier test left in this process are not ours
    log_in(page, live_server, staff)

    page.goto(f"{live_server.url}/ops/")
    finished = page.locator("[data-charts] [data-chart-figures] [data-field=finished]")
    chart = page.locator("[data-charts] svg[data-total]")
    expect(finished).to_have_text("0")
    expect(chart).to_have_attribute("data-total", "0")
    page.evaluate("window.__sameDocument = true")

    for i in range(3):
        enqueue(tasks.succeed, i)
    worker_process()

    expect(finished).to_have_text("3", timeout=60_000)
    expect(chart).to_have_attribute("data-total", "3")
    expect(chart.locator("polyline[data-series=finished]")).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True
