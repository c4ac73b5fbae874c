"""A job fails for real (its SMTP server is down); staff requeue it from /ops/failed/ in
one browser, and the owner's page, already open in another, follows it from Failed to
Finished without a reload (static/js/poll.js keeps polling a job that has ended)."""

import socket
import time

import pytest
from playwright.sync_api import expect

from accounts.tasks import send_welcome_email
from tests.browser.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def a_closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_status(record, status, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record.refresh_from_db()
        if record.status == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{record.id} is {record.status}, not {status}")


def test_staff_requeue_a_failed_job_and_the_owners_open_page_follows_it_to_finished(
    live_server, browser, page, worker_process, alice, staff, screenshot
):
    down = worker_process(extra_env={"EMAIL_URL": f"smtp://127.0.0.1:{a_closed_port()}"})
    record = send_welcome_email.using(retries=0).enqueue(alice.pk, owner=alice)
    wait_for_status(record, "failed")
    down.terminate()
    down.wait(timeout=10)

    owner = browser.new_context().new_page()
    owner.set_default_timeout(15_000)
    log_in(owner, live_server, "alice", "correct horse 1")
    owner.goto(f"{live_server.url}/jobs/{record.id}/")
    expect(owner.locator("[data-field=status_label]")).to_have_text("Failed")
    owner.evaluate("window.__sameDocument = true")  # gone if the page reloads

    worker_process()  # the mail server is back: this worker writes mail to files
    log_in(page, live_server, "charlie", "correct horse 3")
    page.goto(f"{live_server.url}/ops/failed/")
    page.get_by_role("link", name="Welcome email").click()
    page.get_by_role("link", name="Requeue").click()
    page.get_by_role("button", name="Yes, requeue").click()

    expect(owner.locator("[data-field=status_label]")).to_have_text("Finished", timeout=40_000)
    expect(owner.locator('[data-story="result"]')).to_have_text("Finished")
    assert owner.evaluate("window.__sameDocument") is True
    timeline = owner.locator('[data-story="timeline"] li')
    expect(timeline.last).to_contain_text("Finished")
    record.refresh_from_db()
    assert record.status == "finished"
    owner.context.close()
