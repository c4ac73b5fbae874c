"""/demo/difference/: the same slow step inline and queued, each timed by the server."""

import pytest
from django.urls import reverse

from jobs.models import JobRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def step(settings):
    settings.DEMO_STEP_SECONDS = 0.4
    return settings.DEMO_STEP_SECONDS


def test_it_asks_anonymous_visitors_to_log_in(client):
    response = client.get(reverse("demo:difference"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_it_shows_both_sides_to_a_signed_in_user(client, alice):
    client.force_login(alice)

    response = client.get(reverse("demo:difference"))

    assert response.status_code == 200
    assert reverse("demo:difference-inline").encode() in response.content
    assert reverse("demo:difference-queued").encode() in response.content


def test_it_sends_the_email_inside_the_request_when_inline(client, alice, smtp_server, step):
    client.force_login(alice)

    response = client.post(reverse("demo:difference-inline"))

    assert response.json()["server_ms"] >= step * 1000
    assert [to for _, to in smtp_server.received] == ["alice@example.com"]


def test_it_answers_at_once_when_queued_and_the_worker_sends_the_email(
    client, alice, smtp_server, step, redis, run_jobs, django_capture_on_commit_callbacks
):
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("demo:difference-queued"))

    body = response.json()
    assert body["server_ms"] < step * 1000
    assert smtp_server.received == []
    record = JobRecord.objects.get(pk=body["job_id"])
    assert body["job_url"] == reverse("jobs:detail", args=[record.id])
    run_jobs()
    record.refresh_from_db()
    assert record.status == JobRecord.Status.FINISHED
    assert [to for _, to in smtp_server.received] == ["alice@example.com"]
