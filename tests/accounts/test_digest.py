"""The daily digest: a cron entry registered once, fanning out one email per person."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Profile
from accounts.services import digests_fan_out
from accounts.tasks import send_digests
from jobs.base import registry
from jobs.models import JobRecord
from jobs.schedules import PREFIX, get_scheduler, periodic_jobs, register_periodic_jobs
from tests.factories import make_photo

pytestmark = pytest.mark.django_db


def add_photo(user):
    return make_photo(user)


def finish_job(user, status="finished"):
    return JobRecord.objects.create(
        kind="resize_photo", owner=user, func="x.y", status=status, finished_at=timezone.now()
    )


def make_user(django_user_model, name, *, opted_in=True):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw")
    django_user_model.objects.filter(pk=user.pk).update(
        date_joined=timezone.now() - timedelta(days=2)
    )
    user.refresh_from_db()
    Profile.objects.create(user=user, digest_opt_in=opted_in)
    return user


def run_digest(run_jobs, capture, day=None):
    with capture(execute=True):
        record = JobRecord.objects.create(
            kind="send_digests",
            func="accounts.tasks.send_digests",
            queue="low",
            args=[day] if day else [],
        )
    from jobs.services import job_push

    job_push(record=record)
    run_jobs()
    record.refresh_from_db()
    return record


def recipients():
    return sorted(message.to[0] for message in mail.outbox)


# Registration


def test_registering_twice_leaves_one_entry_per_periodic_job(redis):
    register_periodic_jobs()
    register_periodic_jobs(scheduler=get_scheduler())  # a restart: a new scheduler object

    ids = sorted(job.id for job in get_scheduler().get_jobs())
    assert ids == [PREFIX + "prune_job_records", PREFIX + "send_digests"]


def test_changing_a_cron_string_moves_the_entry_instead_of_adding_one(redis, monkeypatch):
    register_periodic_jobs()
    moved = send_digests.using(cron="15 7 * * *")
    monkeypatch.setitem(registry, send_digests.module_path, moved)

    entries = register_periodic_jobs()

    assert sorted((entry["id"], entry["cron"]) for entry in entries) == [
        ("periodic-prune_job_records", "30 3 * * *"),
        ("periodic-send_digests", "15 7 * * *"),
    ]
    [digest] = [entry for entry in entries if entry["id"] == "periodic-send_digests"]
    assert (digest["next_run"].hour, digest["next_run"].minute) == (7, 15)


def test_an_entry_whose_job_lost_its_cron_string_is_removed(redis, monkeypatch):
    register_periodic_jobs()
    monkeypatch.setitem(registry, send_digests.module_path, send_digests.using(cron=None))

    entries = register_periodic_jobs()

    assert [entry["id"] for entry in entries] == ["periodic-prune_job_records"]


def test_the_digest_runs_at_nine_utc_by_default(redis):
    [digest] = [
        entry for entry in register_periodic_jobs() if entry["id"] == "periodic-send_digests"
    ]

    assert digest["cron"] == "0 9 * * *"
    assert (digest["next_run"].hour, digest["next_run"].minute) == (9, 0)
    assert (
        timezone.now().replace(tzinfo=None)
        < digest["next_run"]
        <= (timezone.now().replace(tzinfo=None) + timedelta(days=1))
    )


def test_the_schedules_command_lists_and_registers(redis, capsys):
    call_command("schedules")
    assert "No periodic jobs registered" in capsys.readouterr().out

    call_command("schedules", "--register")

    out = capsys.readouterr().out
    assert "periodic-send_digests" in out and "0 9 * * *" in out
    assert len(periodic_jobs()) == 2


def test_firing_the_cron_entry_runs_a_tracked_digest(
    redis, run_jobs, django_user_model, django_capture_on_commit_callbacks
):
    alice = make_user(django_user_model, "alice")
    add_photo(alice)
    register_periodic_jobs()
    scheduler = get_scheduler()
    [cron] = [job for job in scheduler.get_jobs() if job.id == "periodic-send_digests"]

    scheduler.enqueue_job(cron)  # what rq-scheduler does at 09:00
    with django_capture_on_commit_callbacks(execute=True):
        run_jobs()

    digest = JobRecord.objects.get(kind="send_digests")
    assert digest.status == "finished"
    assert digest.result["recipients"] == 1
    assert recipients() == ["alice@example.com"]
    assert cron.id in [job.id for job in scheduler.get_jobs()]  # and it is due again tomorrow


# Fan-out


def test_one_email_per_opted_in_person_with_news(
    run_jobs, django_user_model, django_capture_on_commit_callbacks
):
    with_photo = make_user(django_user_model, "ann")
    with_job = make_user(django_user_model, "ben")
    with_failed_job = make_user(django_user_model, "cat")
    make_user(django_user_model, "dan")  # nothing happened
    opted_out = make_user(django_user_model, "eve", opted_in=False)
    add_photo(with_photo)
    finish_job(with_job)
    finish_job(with_failed_job, status="failed")
    add_photo(opted_out)

    digest = run_digest(run_jobs, django_capture_on_commit_callbacks)

    assert digest.result["recipients"] == 3
    assert recipients() == ["ann@example.com", "ben@example.com", "cat@example.com"]
    assert JobRecord.objects.filter(kind="send_digest_email", status="finished").count() == 3
    ann = next(m for m in mail.outbox if m.to == ["ann@example.com"])
    assert "Photos added: 1" in ann.body


def test_running_the_digest_twice_sends_nobody_two_emails(
    run_jobs, django_user_model, django_capture_on_commit_callbacks
):
    for name in ["ann", "ben"]:
        add_photo(make_user(django_user_model, name))

    run_digest(run_jobs, django_capture_on_commit_callbacks)
    run_digest(run_jobs, django_capture_on_commit_callbacks)

    assert recipients() == ["ann@example.com", "ben@example.com"]


def test_a_digest_that_died_halfway_resumes_without_skipping_or_repeating(
    run_jobs, django_user_model, settings, monkeypatch, django_capture_on_commit_callbacks
):
    import jobs.base

    settings.DIGEST_BATCH_SIZE = 2
    users = [make_user(django_user_model, f"user{i}") for i in range(5)]
    for user in users:
        add_photo(user)
    real = jobs.base.job_enqueue_many
    calls = []

    def dies_on_the_second_batch(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit("the worker was killed")
        return real(**kwargs)

    monkeypatch.setattr(jobs.base, "job_enqueue_many", dies_on_the_second_batch)
    with pytest.raises(SystemExit), django_capture_on_commit_callbacks(execute=True):
        digests_fan_out(day="2026-11-22")
    monkeypatch.setattr(jobs.base, "job_enqueue_many", real)
    assert JobRecord.objects.filter(kind="send_digest_email").count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        digests_fan_out(day="2026-11-22")  # the retry
        digests_fan_out(day="2026-11-22")  # and a duplicate run for good measure
    run_jobs()

    assert recipients() == sorted(f"user{i}@example.com" for i in range(5))
    assert JobRecord.objects.filter(kind="send_digest_email").count() == 5


def test_the_fan_out_pushes_each_batch_in_one_pipeline(
    run_jobs, django_user_model, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from rq import Queue

    settings.DIGEST_BATCH_SIZE = 50
    users = django_user_model.objects.bulk_create(
        [django_user_model(username=f"u{i}", email=f"u{i}@example.com") for i in range(120)]
    )
    for user in users:
        add_photo(user)
    batches = []
    real = Queue.enqueue_many
    monkeypatch.setattr(
        Queue,
        "enqueue_many",
        lambda self, datas, **kw: batches.append(len(datas)) or real(self, datas, **kw),
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = digests_fan_out(day="2026-11-22")

    assert result["recipients"] == 120
    assert batches == [50, 50, 20]
    assert JobRecord.objects.filter(kind="send_digest_email", status="queued").count() == 120


def test_the_next_digest_covers_only_what_is_new(
    run_jobs, django_user_model, django_capture_on_commit_callbacks
):
    ann = make_user(django_user_model, "ann")
    ben = make_user(django_user_model, "ben")
    make_photo(ann, original_name="monday.jpg")
    old_job = finish_job(ann, status="failed")
    make_photo(ben, original_name="ben-monday.jpg")
    run_digest(run_jobs, django_capture_on_commit_callbacks, day="2026-11-22")
    [first] = [m for m in mail.outbox if m.to == ["ann@example.com"]]
    assert "- monday.jpg" in first.body
    assert f"- {old_job.kind}: failed" in first.body
    mail.outbox.clear()

    # The next day: a new photo and a new job for ann, nothing new for ben. Another day
    # means other job ids and idempotency keys: only "since the last digest" keeps the
    # old news out.
    make_photo(ann, original_name="tuesday.jpg")
    new_job = finish_job(ann, status="finished")
    digest = run_digest(run_jobs, django_capture_on_commit_callbacks, day="2026-11-23")

    assert digest.result == {"day": "2026-11-23", "recipients": 1}
    assert recipients() == ["ann@example.com"]  # ben had nothing new
    [second] = mail.outbox
    assert second.subject == "Your photo site digest for 2026-11-23"
    assert "Photos added: 1\n- tuesday.jpg\n" in second.body
    assert "monday.jpg" not in second.body
    assert f"Background jobs:\n- {new_job.kind}: finished\n" in second.body
    assert f"{old_job.kind}: failed" not in second.body


# Opt-out and run-now


def test_a_person_can_opt_out_on_their_profile(client, alice):
    client.force_login(alice)

    response = client.post("/accounts/profile/", {})  # the checkbox left unticked

    assert response.status_code == 302
    assert Profile.objects.get(user=alice).digest_opt_in is False
    assert (
        "checked"
        not in client.get("/accounts/profile/").content.decode().split("digest_opt_in")[1][:80]
    )


def test_staff_can_run_the_digest_now(client, staff, django_capture_on_commit_callbacks):
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/digest/run/")

    record = JobRecord.objects.get(kind="send_digests")
    assert response.url == f"/jobs/{record.id}/"
    assert record.status == "queued"


def test_others_cannot_run_the_digest(client, alice):
    client.force_login(alice)

    response = client.post("/accounts/digest/run/")

    assert response.status_code == 302
    assert "/admin/login/" in response.url
    assert not JobRecord.objects.filter(kind="send_digests").exists()


def test_cron_strings_mean_utc_whatever_the_machines_time_zone(redis, monkeypatch):
    import time as clock

    from jobs.schedules import use_utc_clock

    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9, no daylight saving
    clock.tzset()
    try:
        use_utc_clock()
        [digest] = [e for e in register_periodic_jobs() if e["id"] == "periodic-send_digests"]
    finally:
        monkeypatch.undo()
        clock.tzset()

    assert (digest["next_run"].hour, digest["next_run"].minute) == (9, 0)
