"""Password reset: the request only enqueues a job on `high`; the job sends the link."""

import re

import pytest
from django.core import mail
from rq import Queue

from jobs.models import JobRecord

pytestmark = pytest.mark.django_db


def request_reset(client, email, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/accounts/password_reset/", {"email": email})


def test_the_request_enqueues_a_job_on_high_and_sends_nothing_itself(
    client, alice, redis, django_capture_on_commit_callbacks
):
    response = request_reset(client, "alice@example.com", django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    record = JobRecord.objects.get(kind="send_password_reset_email")
    assert record.queue == "high"
    assert record.owner == alice
    assert Queue("high", connection=redis).job_ids == [str(record.id)]
    assert mail.outbox == []


def test_the_job_sends_a_link_that_sets_a_new_password(
    client, alice, run_jobs, django_capture_on_commit_callbacks
):
    request_reset(client, "alice@example.com", django_capture_on_commit_callbacks)
    run_jobs()

    assert JobRecord.objects.get(kind="send_password_reset_email").status == "finished"
    [email] = mail.outbox
    assert email.to == ["alice@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", email.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )
    assert done["Location"] == "/accounts/reset/done/"
    alice.refresh_from_db()
    assert alice.check_password("a brand new passphrase")


def test_running_the_job_twice_sends_one_email(
    client, alice, run_jobs, django_capture_on_commit_callbacks
):
    from accounts import tasks

    request_reset(client, "alice@example.com", django_capture_on_commit_callbacks)
    run_jobs()
    record = JobRecord.objects.get(kind="send_password_reset_email")
    tasks.send_password_reset_email(*record.args)

    assert len(mail.outbox) == 1


def test_an_unknown_email_shows_the_same_page_and_enqueues_nothing(
    client, alice, redis, django_capture_on_commit_callbacks
):
    response = request_reset(client, "nobody@example.com", django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert not JobRecord.objects.filter(kind="send_password_reset_email").exists()
    assert Queue("high", connection=redis).job_ids == []


def test_reset_requests_are_rate_limited(
    client, alice, redis, settings, django_capture_on_commit_callbacks
):
    settings.SIGNUP_RATE_LIMIT = 2
    for _ in range(2):
        assert (
            request_reset(
                client, "alice@example.com", django_capture_on_commit_callbacks
            ).status_code
            == 302
        )

    refused = request_reset(client, "alice@example.com", django_capture_on_commit_callbacks)

    assert refused.status_code == 429
    assert "Too many attempts to reset a password" in refused.content.decode()
    assert JobRecord.objects.filter(kind="send_password_reset_email").count() == 2


def test_the_login_page_links_to_the_reset_page(client):
    page = client.get("/accounts/login/").content.decode()

    assert 'href="/accounts/password_reset/"' in page
    assert "Forgot your password?" in page


def test_a_made_up_reset_link_answers_404_with_a_way_on(client):
    response = client.get("/accounts/reset/MQ/not-a-token/")

    assert response.status_code == 404
    assert 'href="/accounts/password_reset/"' in response.content.decode()
