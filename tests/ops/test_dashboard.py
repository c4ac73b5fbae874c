"""/ops/: queue counts, workers, periodic jobs and the oldest wait, refreshed in place;
/healthz reports the same backlog per queue."""

from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.sweeper import sweep
from jobs.worker import Worker, heartbeat_key
from tests.jobs import tasks

pytestmark = pytest.mark.django_db


def queue_row(response, name):
    return next(queue for queue in response.context["queues"] if queue["name"] == name)


def age_job(record, minutes):
    job = django_rq.get_queue(record.queue).fetch_job(str(record.id))
    job.enqueued_at = timezone.now() - timedelta(minutes=minutes)
    job.save()


def test_it_counts_each_queue_by_registry(staff_client, enqueue, run_jobs):
    # RQ keeps a finished job only when it declares keep_result (the row always does).
    enqueue(tasks.succeed, 1, queue="low", keep_result=3600)
    run_jobs()
    enqueue(tasks.always_fail, queue="low")
    run_jobs()
    enqueue(tasks.succeed, 2, queue="low")
    enqueue(tasks.succeed, 3, queue="low", delay=timedelta(hours=1))

    response = staff_client.get(reverse("ops:dashboard"))

    low = queue_row(response, "low")
    assert {key: low[key] for key in ("queued", "scheduled", "failed", "finished")} == {
        "queued": 1,
        "scheduled": 1,
        "failed": 1,
        "finished": 1,
    }
    assert queue_row(response, "high")["queued"] == 0
    assert response.context["failed_count"] == 1


def test_it_shows_the_oldest_waiting_job_per_queue(staff_client, enqueue):
    age_job(enqueue(tasks.succeed, 1), minutes=3)
    enqueue(tasks.succeed, 2)

    response = staff_client.get(reverse("ops:dashboard"))

    assert 180 <= queue_row(response, "default")["oldest_waiting_seconds"] < 200
    assert queue_row(response, "high")["oldest_waiting_seconds"] is None


def test_it_lists_live_workers_with_their_heartbeat(staff_client, redis):
    worker = Worker([django_rq.get_queue("high"), django_rq.get_queue("low")], connection=redis)
    worker.register_birth()
    try:
        response = staff_client.get(reverse("ops:dashboard"))
    finally:
        worker.register_death()

    [listed] = response.context["workers"]
    assert listed["name"] == worker.name
    assert listed["queues"] == ["high", "low"]
    assert listed["last_heartbeat"] is not None
    assert worker.name in response.content.decode()


def test_a_worker_whose_heartbeat_stopped_is_not_listed(staff_client, redis):
    # RQ keeps a killed worker's entry for minutes; its heartbeat key expires in seconds.
    worker = Worker([django_rq.get_queue("default")], connection=redis)
    worker.register_birth()
    worker.liveness.stop()  # as if killed: its heartbeat key goes, and its thread with it
    assert not redis.exists(heartbeat_key(worker.name))

    response = staff_client.get(reverse("ops:dashboard"))

    assert response.context["workers"] == []
    assert b"No worker is running" in response.content


def test_it_shows_the_last_sweeper_pass(staff_client, enqueue):
    sweep()

    response = staff_client.get(reverse("ops:dashboard"))

    assert b"Last pass" in response.content
    assert response.context["sweep"]["pushed_pending"] == 0


def test_it_says_so_when_the_sweeper_never_ran(staff_client):
    response = staff_client.get(reverse("ops:dashboard"))

    assert b"The sweeper has not run" in response.content


def test_it_says_so_when_no_worker_runs(staff_client):
    response = staff_client.get(reverse("ops:dashboard"))

    assert b"No worker is running" in response.content


def test_it_lists_cron_entries_with_their_next_run(staff_client):
    scheduler = django_rq.get_scheduler("default")
    scheduler.cron("*/5 * * * *", func="tests.jobs.tasks.succeed", args=[1], id="every-five")

    response = staff_client.get(reverse("ops:dashboard"))

    [entry] = response.context["cron"]
    assert (entry["id"], entry["cron"], entry["func"]) == (
        "every-five",
        "*/5 * * * *",
        "tests.jobs.tasks.succeed",
    )
    assert timezone.now() < entry["next_run"] <= timezone.now() + timedelta(minutes=5)
    assert "*/5 * * * *" in response.content.decode()


def test_the_page_polls_its_panel_and_the_panel_stands_alone(staff_client):
    page = staff_client.get(reverse("ops:dashboard")).content.decode()
    panel = staff_client.get(reverse("ops:overview")).content.decode()

    assert f'data-ops-poll="{reverse("ops:overview")}"' in page
    assert "js/ops.js" in page
    assert "<h2>Queues</h2>" in panel
    assert "<html" not in panel


def test_a_long_wait_is_flagged_on_the_page_and_in_healthz(staff_client, client, enqueue, settings):
    settings.QUEUE_ALERT_AGE_SECONDS = 600
    age_job(enqueue(tasks.succeed, 1), minutes=11)

    page = staff_client.get(reverse("ops:dashboard"))
    health = client.get("/healthz")

    assert queue_row(page, "default")["backlog"] is True
    assert b'class="backlog"' in page.content
    assert health.status_code == 200
    default = health.json()["queues"]["default"]
    assert default["backlog"] is True
    assert default["waiting"] == 1
    assert default["oldest_waiting_seconds"] >= 660
    assert health.json()["queues"]["high"]["backlog"] is False


def test_too_many_waiting_jobs_are_flagged_in_healthz(client, enqueue, settings):
    settings.QUEUE_ALERT_WAITING = 2
    for value in range(3):
        enqueue(tasks.succeed, value, queue="low")

    queues = client.get("/healthz").json()["queues"]

    assert queues["low"] == {
        "waiting": 3,
        "oldest_waiting_seconds": pytest.approx(0, abs=5),
        "backlog": True,
    }
    assert queues["default"]["backlog"] is False


@pytest.mark.parametrize("url", ["/ops/", "/ops/overview/", "/ops/failed/"])
def test_when_redis_is_down_staff_are_told_instead_of_a_500(staff_client, settings, url):
    dead = "redis://127.0.0.1:1/0?socket_connect_timeout=0.2&socket_timeout=0.2"
    settings.RQ_QUEUES = {name: {**c, "URL": dead} for name, c in settings.RQ_QUEUES.items()}

    response = staff_client.get(url)

    assert response.status_code == 503
    assert b"Redis is unreachable" in response.content
