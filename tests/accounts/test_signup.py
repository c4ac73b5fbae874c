import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from jobs.models import JobRecord

pytestmark = pytest.mark.django_db

SIGNUP = {
    "username": "dana",
    "email": "dana@example.com",
    "password1": "a long enough passphrase",
    "password2": "a long enough passphrase",
}


def test_it_records_the_welcome_job_and_redirects_to_its_page(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:signup"), SIGNUP)

    record = JobRecord.objects.get(kind="send_welcome_email")
    assert response.status_code == 302
    assert response.url == reverse("jobs:detail", args=[record.id])
    assert record.owner.username == "dana"
    assert record.status == "queued"
    assert record.queue == "high"


def test_it_does_not_send_email_during_the_request(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), SIGNUP)

    assert mail.outbox == []


def test_it_pushes_to_redis_only_after_commit(client, redis, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("accounts:signup"), SIGNUP)
        record = JobRecord.objects.get(kind="send_welcome_email")
        assert not redis.exists(f"rq:job:{record.id}")
        assert record.status == "pending"

    for callback in callbacks:
        callback()
    assert redis.exists(f"rq:job:{record.id}")


def test_the_worker_sends_one_welcome_email(client, run_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), SIGNUP)

    run_jobs()

    record = JobRecord.objects.get(kind="send_welcome_email")
    assert record.status == "finished"
    assert record.progress == 100
    assert record.attempts == 1
    assert [message.to for message in mail.outbox] == [["dana@example.com"]]
    assert "Welcome" in mail.outbox[0].subject


def test_it_logs_the_new_user_in(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), SIGNUP)

    response = client.get(reverse("jobs:list"))
    assert response.status_code == 200
    assert b"send_welcome_email" in response.content


INVALID_USERNAME = (
    "Enter a valid username. This value may contain only unaccented lowercase a-z and "
    "uppercase A-Z letters, numbers, and @/./+/-/_ characters."
)


@pytest.mark.parametrize(
    ("changes", "field", "messages"),
    [
        ({"email": "not-an-email"}, "email", ["Enter a valid email address."]),
        (
            {"password2": "something else"},
            "password2",
            ["The two password fields didn\u2019t match."],
        ),
        ({"username": ""}, "username", ["This field is required."]),
        (
            {"password1": "123", "password2": "123"},
            "password2",
            [
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
        (
            {"username": "a" * 151},
            "username",
            ["Ensure this value has at most 150 characters (it has 151)."],
        ),
        ({"username": "bad name!"}, "username", [INVALID_USERNAME]),
        (
            {"email": "d" * 250 + "@example.com"},
            "email",
            ["Ensure this value has at most 254 characters (it has 262)."],
        ),
        (
            {"password1": "password123", "password2": "password123"},
            "password2",
            ["This password is too common."],
        ),
        (
            {"password1": "8230174652", "password2": "8230174652"},
            "password2",
            ["This password is entirely numeric."],
        ),
        (
            {"password1": "dana@example", "password2": "dana@example"},
            "password2",
            ["The password is too similar to the email address."],
        ),
        # A Cyrillic a (U+0430) in front of "lice" looks like alice, so it is refused.
        ({"username": "\u0430lice"}, "username", [INVALID_USERNAME]),
        ({"username": "dana\u200b"}, "username", [INVALID_USERNAME]),
    ],
)
def test_bad_input_returns_the_form_with_a_clear_error(client, changes, field, messages):
    response = client.post(reverse("accounts:signup"), {**SIGNUP, **changes})

    assert response.status_code == 200
    assert response.context["form"].errors[field] == messages
    assert not JobRecord.objects.exists()


def test_a_taken_username_or_email_is_refused(client, alice):
    taken = {**SIGNUP, "username": "alice", "email": "ALICE@example.com"}
    response = client.post(reverse("accounts:signup"), taken)

    form = response.context["form"]
    assert "username" in form.errors
    assert "An account with this email already exists." in form.errors["email"]


@pytest.mark.parametrize(
    "username",
    ["ALICE", "\uff41\uff4c\uff49\uff43\uff45"],  # the fullwidth letters fold to "alice"
)
def test_a_username_that_differs_from_a_taken_one_only_in_case_or_width_is_taken(
    client, alice, username
):
    response = client.post(reverse("accounts:signup"), {**SIGNUP, "username": username})

    assert response.context["form"].errors["username"] == [
        "A user with that username already exists."
    ]
    assert get_user_model().objects.count() == 1


def test_an_empty_post_is_not_a_server_error(client):
    response = client.post(reverse("accounts:signup"), {})

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["This field is required."]


def test_the_welcome_job_run_twice_sends_one_email(
    client, run_jobs, django_capture_on_commit_callbacks
):
    import django_rq

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), SIGNUP)
    record = JobRecord.objects.get(kind="send_welcome_email")
    run_jobs()
    # Staff requeue it, or RQ redelivers it: the row goes back to queued and it runs again.
    JobRecord.objects.filter(pk=record.pk).update(status="queued")
    django_rq.get_queue("high").enqueue_call(record.func, args=record.args, job_id=str(record.id))
    run_jobs()

    record.refresh_from_db()
    assert record.attempts == 2
    assert record.result == {"sent": False, "to": "dana@example.com"}
    assert len(mail.outbox) == 1


def test_an_smtp_failure_is_retried_and_then_sends(
    client, run_jobs, settings, smtp_server, django_capture_on_commit_callbacks
):
    settings.JOB_RETRY_BASE_SECONDS = 0
    smtp_server.refuse_next = 1  # "451 Try again later", from a real SMTP server
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), SIGNUP)

    run_jobs()

    record = JobRecord.objects.get(kind="send_welcome_email")
    assert record.status == "finished"
    assert record.attempts == 2
    assert record.error == ""  # a finished job shows no error from an earlier attempt
    assert [to for _, to in smtp_server.received] == ["dana@example.com"]


def test_with_redis_down_signup_succeeds_and_the_page_says_the_email_waits(
    client, settings, django_capture_on_commit_callbacks
):
    dead = "redis://127.0.0.1:1/0?socket_connect_timeout=0.2&socket_timeout=0.2"
    settings.RQ_QUEUES = {name: {**c, "URL": dead} for name, c in settings.RQ_QUEUES.items()}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:signup"), SIGNUP, follow=True)

    assert response.status_code == 200
    assert JobRecord.objects.get(kind="send_welcome_email").status == "pending"
    assert "waits for the queue" in response.content.decode()
