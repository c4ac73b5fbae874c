"""The owner's job page tells what happened: a label, a timeline, how long the request
that caused the job took next to how long the job took (jobs.selectors.job_story,
jobs.middleware)."""

import time

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from jobs.base import job, label_from_name, registry
from jobs.middleware import RequestTiming
from jobs.models import JobRecord
from tests.jobs.tasks import always_fail, fail_times, succeed

pytestmark = pytest.mark.django_db

SIGNUP = {
    "username": "dana",
    "email": "dana@example.com",
    "password1": "a long enough passphrase",
    "password2": "a long enough passphrase",
}

CONTRACT_KEYS = {
    "id",
    "kind",
    "status",
    "status_label",
    "progress",
    "stage",
    "attempts",
    "max_attempts",
    "error",
    "terminal",
    "created_at",
    "started_at",
    "finished_at",
}


def test_a_job_without_a_label_reads_as_its_function_name():
    assert label_from_name("send_welcome_email") == "Send welcome email"
    assert succeed.label == "Succeed"


def test_a_declared_label_wins():
    assert registry["accounts.tasks.send_welcome_email"].label == "Welcome email"
    assert registry["uploads.tasks.resize_photo"].label == "Resize a photo"
    assert registry["jobs.tasks.prune_job_records"].label == "Prune old job records"
    assert registry["jobs.ops.tasks.requeue_failed_jobs"].label == "Requeue failed jobs"


def test_the_json_keeps_its_keys_and_adds_the_label_and_the_story(client, alice, enqueue, run_jobs):
    record = enqueue(succeed, 7, owner=alice)
    run_jobs()
    client.force_login(alice)

    data = client.get(reverse("jobs:status", args=[record.id])).json()

    assert set(data) >= CONTRACT_KEYS
    assert data["label"] == "Succeed"
    assert set(data["story"]) == {
        "sentence",
        "timeline",
        "waited",
        "ran",
        "worker",
        "run_at",
        "next_attempt_at",
        "request_seconds",
    }
    assert [entry["text"] for entry in data["story"]["timeline"]] == [
        "Recorded",
        "Queued",
        "Attempt 1 started",
        "Finished",
    ]
    assert data["story"]["ran"] >= 0
    assert data["story"]["waited"] >= 0
    assert data["story"]["worker"]


def test_a_retried_job_tells_each_attempt_and_the_retry(client, alice, enqueue, run_jobs):
    record = enqueue(fail_times, "story-retry", 1, owner=alice, retries=2)
    run_jobs()
    record.refresh_from_db()
    assert record.status == "scheduled"

    client.force_login(alice)
    data = client.get(reverse("jobs:status", args=[record.id])).json()
    texts = [entry["text"] for entry in data["story"]["timeline"]]

    assert "Attempt 1: Failed; retrying" in texts
    assert "Retry #2" in texts
    assert data["story"]["next_attempt_at"] is not None


def test_the_story_never_shows_the_host_or_the_exception(client, alice, enqueue, run_jobs):
    record = enqueue(always_fail, owner=alice)
    run_jobs()
    record.refresh_from_db()
    assert record.status == "failed"
    assert record.host

    client.force_login(alice)
    body = client.get(reverse("jobs:status", args=[record.id])).content.decode()
    page = client.get(reverse("jobs:detail", args=[record.id])).content.decode()

    for text in (body, page):
        assert record.host not in text
        assert "the downstream service is down" not in text
    assert "Failed" in [
        e["text"] for e in client.get(f"/jobs/{record.id}.json").json()["story"]["timeline"]
    ]


def test_the_job_page_shows_the_label_story_and_how_it_works(client, alice, enqueue, run_jobs):
    record = enqueue(succeed, 1, owner=alice)
    run_jobs()
    client.force_login(alice)

    page = client.get(reverse("jobs:detail", args=[record.id])).content.decode()

    assert '<h1 data-field="label">Succeed</h1>' in page
    assert "runs on a worker, in the background" in page
    assert 'aria-live="polite"' in page
    assert '<label for="job-progress-' in page
    assert "<code>tests/jobs/tasks.py</code>" in page
    assert "docs/01-the-queue-pattern.md" in page


def test_my_jobs_shows_labels_and_its_json_lists_them(client, alice, bob, enqueue):
    mine = enqueue(succeed, 1, owner=alice)
    enqueue(succeed, 2, owner=bob)
    client.force_login(alice)

    page = client.get(reverse("jobs:list")).content.decode()
    data = client.get(reverse("jobs:list_status")).json()

    assert f'data-job-id="{mine.id}"' in page
    assert ">Succeed</a>" in page
    assert [job["id"] for job in data["jobs"]] == [str(mine.id)]
    assert data["jobs"][0]["label"] == "Succeed"
    assert set(data["jobs"][0]) >= CONTRACT_KEYS


def test_signup_records_how_long_its_request_took_on_the_welcome_job(
    client, django_capture_on_commit_callbacks
):
    assert settings.MIDDLEWARE[0] == "jobs.middleware.RequestTiming"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), SIGNUP)

    record = JobRecord.objects.get(kind="send_welcome_email")
    assert record.request_seconds is not None
    assert 0 < record.request_seconds < 30


def test_the_middleware_writes_the_elapsed_time_on_every_job_the_request_enqueued(alice):
    enqueued = []

    def view(request):
        enqueued.append(succeed.enqueue(1, owner=alice))
        enqueued.append(succeed.enqueue(2, owner=alice))
        time.sleep(0.2)
        return HttpResponse("ok")

    RequestTiming(view)(RequestFactory().get("/"))

    seconds = list(
        JobRecord.objects.filter(pk__in=[r.pk for r in enqueued]).values_list(
            "request_seconds", flat=True
        )
    )
    assert len(seconds) == 2
    assert all(0.2 <= value < 5 for value in seconds)


def test_a_request_that_enqueues_nothing_costs_no_query(django_assert_num_queries):
    middleware = RequestTiming(lambda request: HttpResponse("ok"))
    with django_assert_num_queries(0):
        middleware(RequestFactory().get("/"))


def test_an_enqueue_outside_a_request_notes_nothing(alice):
    record = succeed.enqueue(1, owner=alice)
    record.refresh_from_db()
    assert record.request_seconds is None


@job(label="A custom label")
def labelled_job():
    return None


def test_label_reaches_the_declaration():
    assert labelled_job.label == "A custom label"


def test_every_declared_app_job_says_what_it_does():
    from tests.test_layout import app_jobs

    silent = [job.name for job in app_jobs() if not job.about.endswith(".")]
    assert silent == []


def test_the_story_sentence_differs_by_kind_queue_delay_and_retries(alice, enqueue):
    from datetime import timedelta

    from accounts.tasks import delete_account, send_welcome_email
    from jobs.selectors import job_story

    welcome = enqueue(send_welcome_email, alice.pk, owner=alice)
    deletion = enqueue(delete_account.using(delay=timedelta(minutes=30)), alice.pk, owner=alice)
    once = enqueue(succeed, 1, owner=alice)

    welcome_story = job_story(welcome)["sentence"]
    deletion_story = job_story(deletion)["sentence"]
    assert welcome_story.startswith("Sends the welcome email to the address you signed up with.")
    assert "taken from the high queue" in welcome_story
    assert "up to 6 attempts" in welcome_story
    assert deletion_story.startswith("Deletes the account")
    assert "taken from the default queue" in deletion_story
    assert f"until {deletion.run_at:%H:%M:%S} UTC" in deletion_story
    assert "scheduled registry" not in welcome_story
    # No `about`: the label stands in for it, and one attempt is said to be final.
    assert job_story(once)["sentence"].startswith("Succeed. It runs on a worker")
    assert job_story(once)["sentence"].endswith("It is tried once: a failure is final.")


def test_a_cron_jobs_story_says_the_scheduler_queues_it(enqueue):
    from accounts.tasks import send_digests
    from jobs.selectors import job_story

    sentence = job_story(enqueue(send_digests))["sentence"]

    assert sentence.startswith("Once a day, on a cron schedule")
    assert "rq-scheduler puts it on the low queue on its schedule" in sentence


def test_my_jobs_json_gives_each_jobs_page_for_rows_added_later(client, alice, enqueue):
    client.force_login(alice)
    page = client.get(reverse("jobs:list")).content.decode()
    assert "No jobs yet." in page
    assert "<template data-job-row>" in page  # the row poll.js copies

    record = enqueue(succeed, 1, owner=alice)
    data = client.get(reverse("jobs:list_status")).json()

    assert data["jobs"][0]["url"] == reverse("jobs:detail", args=[record.id])


def test_a_job_started_just_before_its_time_still_reads_scheduled_then_started(alice, enqueue):
    from datetime import timedelta

    from jobs.selectors import job_story

    record = enqueue(succeed, 1, owner=alice)
    now = record.created_at
    record.enqueued_at = now + timedelta(seconds=1)
    record.run_at = now + timedelta(seconds=30)
    record.started_at = now + timedelta(seconds=29.4)  # RQ's scheduler is up to 1 s early
    record.finished_at = now + timedelta(seconds=29.5)
    record.attempts = 1
    record.status = JobRecord.Status.FINISHED

    story = job_story(record, attempts=[])
    texts = [entry["text"] for entry in story["timeline"]]

    assert texts == [
        "Recorded",
        "Held in RQ's scheduled registry",
        "Scheduled to run",
        "Attempt 1 started",
        "Finished",
    ]
    assert story["waited"] == 0.0  # it started before its time: it never waited in a queue


def test_a_delayed_job_waited_in_its_queue_from_its_time_not_from_its_hand_off(alice, enqueue):
    from datetime import timedelta

    from jobs.selectors import job_story

    record = enqueue(succeed, 1, owner=alice)
    now = record.created_at
    record.enqueued_at = now  # handed to RQ's scheduler at once
    record.run_at = now + timedelta(minutes=30)
    record.started_at = now + timedelta(minutes=30, seconds=2)

    assert job_story(record, attempts=[])["waited"] == 2.0

    record.run_at = None  # not delayed: it waited from its hand-off
    assert job_story(record, attempts=[])["waited"] == 1802.0
