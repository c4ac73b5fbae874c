"""The console's Busy, Scheduled and Cron tabs: what each lists, "run now", who may use
it, and a cost that does not grow with the number of jobs."""

import contextlib
import uuid
from datetime import timedelta

import django_rq
import pytest
from django.db import connection
from django.template.defaultfilters import date as date_filter
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.timezone import localtime
from rq import Worker
from rq.job import Job

from accounts.tasks import send_digests
from jobs.base import registry
from jobs.models import JobEvent, JobRecord
from jobs.ops.models import OpsAction
from jobs.schedules import get_scheduler, register_periodic_jobs
from tests import polling
from tests.jobs import tasks
from tests.ops.test_failed_list_round_trips import redis_round_trips

pytestmark = pytest.mark.django_db

PRUNE = "periodic-prune_job_records"
DIGEST = "periodic-send_digests"


def wait_for(condition, timeout=30, what="the condition"):
    return polling.wait_for(condition, timeout, what)


def scheduled_ids(queue="default"):
    return django_rq.get_queue(queue).scheduled_job_registry.get_job_ids()


def run_now_url(job):
    return reverse("ops:scheduled-run-now", args=[job.queue, str(job.id)])


def shown_time(value):
    """A time as the tabs print it."""
    return date_filter(localtime(value), "Y-m-d H:i:s e")


@pytest.fixture
def retry(alice, enqueue, run_jobs, settings):
    """Alice's job that failed its first attempt and waits a minute for its retry."""
    settings.JOB_RETRY_BASE_SECONDS = 60
    record = enqueue(tasks.fail_times, f"tabs-{uuid.uuid4()}", 1, owner=alice, retries=1)
    run_jobs()  # no scheduler: the retry stays in the scheduled registry
    record.refresh_from_db()
    assert (record.status, record.attempts) == ("scheduled", 1)
    return record


@pytest.fixture
def delayed(bob, enqueue):
    """Bob's job, delayed by an hour."""
    record = enqueue(tasks.succeed, 7, owner=bob, delay=timedelta(hours=1))
    assert record.status == "scheduled"
    return record


# Busy


@pytest.mark.django_db(transaction=True)
def test_busy_lists_the_jobs_workers_are_running_now(
    client, staff, alice, enqueue, worker_process, tmp_path
):
    go = tmp_path / "go"
    for _ in range(2):
        worker_process("default")
    record = enqueue(tasks.wait_for_file, str(go), owner=alice)
    shell_job = django_rq.get_queue("default").enqueue(tasks.wait_for_file.module_path, str(go))
    client.force_login(staff)

    def both_running():
        response = client.get(reverse("ops:busy"))
        running = {job.id: job for job in response.context["jobs"] if job.worker}
        if {str(record.id), shell_job.id} <= set(running):
            # A worker takes the job in Redis a moment before its row says it started.
            started = running[str(record.id)].record.stage == "Waiting for the go-ahead"
            return started and (response, running)
        return None

    response, running = wait_for(both_running, what="both jobs to be running")
    workers = {worker.name: worker for worker in Worker.all(connection=django_rq.get_connection())}
    ours, theirs = running[str(record.id)], running[shell_job.id]
    assert ours.worker_name in workers
    assert theirs.worker_name in workers
    assert ours.worker_name != theirs.worker_name
    assert (ours.kind, ours.owner, ours.queue) == ("wait_for_file", alice, "default")
    assert (theirs.kind, theirs.owner) == ("tests.jobs.tasks.wait_for_file", None)
    html = response.content.decode()
    assert ours.worker_name in html and theirs.worker_name in html
    assert workers[ours.worker_name].hostname in html
    assert reverse("ops:job", args=[record.id]) in html
    assert "alice" in html
    assert "1 of 1" in html
    assert "Waiting for the go-ahead" in html
    assert "tests.jobs.tasks.wait_for_file" in html

    go.touch()

    wait_for(lambda: JobRecord.objects.get(pk=record.pk).status == "finished", what="the job")
    wait_for(lambda: not client.get(reverse("ops:busy")).context["jobs"], what="an idle page")
    assert "No job is running now." in client.get(reverse("ops:busy")).content.decode()


def test_busy_refreshes_its_table_alone(staff_client):
    response = staff_client.get(reverse("ops:busy"), {"panel": "1"})

    assert response.status_code == 200
    assert [template.name for template in response.templates] == ["ops/_busy.html"]


# Scheduled


def test_scheduled_lists_retries_and_delayed_jobs_soonest_first(staff_client, retry, delayed):
    registry = django_rq.get_queue("default").scheduled_job_registry

    response = staff_client.get(reverse("ops:scheduled"))

    listed = response.context["jobs"]
    assert [job.id for job in listed] == [str(retry.id), str(delayed.id)]
    first, second = listed
    assert first.run_at == registry.get_scheduled_time(str(retry.id))
    assert second.run_at == registry.get_scheduled_time(str(delayed.id))
    assert (first.is_retry, first.error, first.owner) == (True, "Flaky: run 1 failed", retry.owner)
    assert (second.is_retry, second.error, second.owner) == (False, "", delayed.owner)
    html = response.content.decode()
    assert shown_time(first.run_at) in html and shown_time(second.run_at) in html
    assert "A retry" in html and "Retrying in 60s" in html and "Flaky: run 1 failed" in html
    assert "Its delay" in html
    assert html.count("Run now</a>") == 2


def test_scheduled_lists_a_job_from_a_shell_by_its_function(staff_client):
    job = django_rq.get_queue("default").enqueue_in(
        timedelta(minutes=5), tasks.succeed.module_path, 3
    )

    response = staff_client.get(reverse("ops:scheduled"))

    [listed] = response.context["jobs"]
    assert (listed.id, listed.record, listed.kind) == (job.id, None, "tests.jobs.tasks.succeed")
    assert "(no record)" in response.content.decode()


def test_scheduled_caps_the_list_and_says_how_many_more(staff_client, monkeypatch):
    monkeypatch.setattr("jobs.ops.tabs.SCHEDULED_LIMIT", 2)
    queue = django_rq.get_queue("default")
    jobs = [queue.enqueue_in(timedelta(minutes=m), tasks.succeed.module_path, m) for m in (3, 1, 2)]
    django_rq.get_queue("low").enqueue_in(timedelta(seconds=30), tasks.succeed.module_path, 0)

    response = staff_client.get(reverse("ops:scheduled"))

    assert [job.queue for job in response.context["jobs"]] == ["low", "default"]
    assert response.context["jobs"][1].id == jobs[1].id
    assert response.context["more"] == 2
    assert "2 more scheduled jobs" in response.content.decode()


def test_the_run_now_page_shows_the_job_and_changes_nothing(staff_client, retry):
    response = staff_client.get(run_now_url(retry))

    assert response.status_code == 200
    html = response.content.decode()
    assert str(retry.id) in html and "as a retry" in html and "Flaky: run 1 failed" in html
    assert scheduled_ids() == [str(retry.id)]
    retry.refresh_from_db()
    assert retry.status == "scheduled"
    assert not OpsAction.objects.exists()


@pytest.mark.parametrize("which", ["retry", "delayed"])
def test_run_now_moves_a_scheduled_job_to_its_queue_where_it_runs(
    staff_client, staff, request, run_jobs, which
):
    record = request.getfixturevalue(which)

    response = staff_client.post(run_now_url(record))

    assert response.status_code == 302
    assert response.url == reverse("ops:scheduled")
    assert scheduled_ids() == []
    assert django_rq.get_queue("default").get_job_ids() == [str(record.id)]
    record.refresh_from_db()
    assert record.status == "queued"
    assert record.run_at is None or record.run_at <= timezone.now()
    [action] = OpsAction.objects.all()
    assert (action.actor, action.verb, action.target, action.job_ids) == (
        staff,
        "run now",
        f"scheduled job {record.id}",
        [str(record.id)],
    )
    assert JobEvent.objects.filter(job=record, kind="staff", actor=staff).exists()

    run_jobs()  # no scheduler: it runs because it is in its queue

    record.refresh_from_db()
    assert record.status == "finished"


def test_run_now_moves_a_job_from_a_shell_too(staff_client, run_jobs):
    job = django_rq.get_queue("default").enqueue_in(
        timedelta(minutes=5), tasks.succeed.module_path, 3
    )

    staff_client.post(reverse("ops:scheduled-run-now", args=["default", job.id]))

    assert scheduled_ids() == []
    run_jobs()

    assert Job.fetch(job.id, connection=job.connection).get_status() == "finished"
    assert OpsAction.objects.get().job_ids == [job.id]


def test_run_now_on_a_job_no_longer_scheduled_says_so(staff_client, delayed, run_jobs):
    url = run_now_url(delayed)
    staff_client.post(url)  # someone else ran it first

    responses = [staff_client.get(url, follow=True), staff_client.post(url, follow=True)]

    for response in responses:
        assert response.redirect_chain == [(reverse("ops:scheduled"), 302)]
        assert "no longer scheduled" in response.content.decode()
    assert OpsAction.objects.count() == 1
    assert django_rq.get_queue("default").get_job_ids() == [str(delayed.id)]


def test_run_now_on_an_unknown_queue_or_job_says_so(staff_client):
    for queue, job_id in [("nope", "some-job"), ("default", "some-job")]:
        url = reverse("ops:scheduled-run-now", args=[queue, job_id])
        for response in [staff_client.get(url), staff_client.post(url)]:
            assert (response.status_code, response.url) == (302, reverse("ops:scheduled"))
    assert not OpsAction.objects.exists()


# Cron


def test_cron_lists_the_registered_entries_with_their_schedule(staff_client):
    register_periodic_jobs()

    response = staff_client.get(reverse("ops:cron"))

    entries = {entry.id: entry for entry in response.context["entries"]}
    assert sorted(entries) == [PRUNE, DIGEST]
    assert (entries[PRUNE].kind, entries[PRUNE].cron, entries[PRUNE].queue) == (
        "prune_job_records",
        "30 3 * * *",
        "low",
    )
    assert (entries[DIGEST].kind, entries[DIGEST].cron) == ("send_digests", "0 9 * * *")
    next_runs = dict(get_scheduler().get_jobs(with_times=True))
    for job, when in next_runs.items():
        assert entries[job.id].next_run.replace(tzinfo=None) == when
    html = response.content.decode()
    assert "30 3 * * *" in html and "0 9 * * *" in html
    assert html.count("Never run") == 2
    assert html.count("Run now</a>") == 2


def test_cron_shows_the_latest_run_of_each_entrys_job(staff_client, run_jobs, enqueue):
    register_periodic_jobs()
    older = enqueue(send_digests)
    JobRecord.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    run_jobs()
    [entry] = [job for job in get_scheduler().get_jobs() if job.id == DIGEST]
    get_scheduler().enqueue_job(entry)  # what rq-scheduler does at 09:00
    run_jobs()
    latest = JobRecord.objects.exclude(pk=older.pk).get(kind="send_digests")
    assert latest.status == "finished"

    response = staff_client.get(reverse("ops:cron"))

    entries = {entry.id: entry for entry in response.context["entries"]}
    assert entries[DIGEST].last == latest
    assert entries[DIGEST].last_duration is not None
    assert entries[PRUNE].last is None
    html = response.content.decode()
    assert reverse("ops:job", args=[latest.id]) in html
    assert reverse("ops:job", args=[older.id]) not in html
    assert html.count("Never run") == 1


def test_cron_run_now_enqueues_a_new_run_of_the_entrys_job(
    staff_client, staff, run_jobs, django_capture_on_commit_callbacks
):
    register_periodic_jobs()
    next_runs = dict((job.id, when) for job, when in get_scheduler().get_jobs(with_times=True))
    url = reverse("ops:cron-run-now", args=[DIGEST])
    assert "Run Daily digests for everyone now?" in staff_client.get(url).content.decode()
    assert not JobRecord.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url)

    record = JobRecord.objects.get()
    assert (record.kind, record.queue, record.status) == ("send_digests", "low", "queued")
    assert response.url == reverse("ops:job", args=[record.id])
    assert django_rq.get_queue("low").get_job_ids() == [str(record.id)]
    [action] = OpsAction.objects.all()
    assert (action.actor, action.verb, action.target, action.job_ids) == (
        staff,
        "run now",
        f"cron entry {DIGEST}",
        [str(record.id)],
    )
    assert next_runs == dict(
        (job.id, when) for job, when in get_scheduler().get_jobs(with_times=True)
    )
    run_jobs()
    record.refresh_from_db()
    assert record.status == "finished"


def test_cron_run_now_runs_an_entry_of_a_declared_function_with_its_arguments(
    staff_client, run_jobs, django_capture_on_commit_callbacks
):
    get_scheduler().cron("*/5 * * * *", func=tasks.succeed.module_path, args=[4], id="every-five")

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("ops:cron-run-now", args=["every-five"]))
    run_jobs()

    record = JobRecord.objects.get()
    assert (record.kind, record.args, record.result) == ("succeed", [4], {"value": 4})


def test_cron_run_now_is_404_for_an_unknown_entry_or_one_that_runs_no_declared_job(
    staff_client,
):
    get_scheduler().cron("*/5 * * * *", func="os.getcwd", id="not-ours")

    response = staff_client.get(reverse("ops:cron"))
    assert "(not a declared job)" in response.content.decode()
    assert "Run now</a>" not in response.content.decode()
    for entry_id in ["no-such-entry", "not-ours"]:
        url = reverse("ops:cron-run-now", args=[entry_id])
        assert [staff_client.get(url).status_code, staff_client.post(url).status_code] == [404, 404]
    assert not JobRecord.objects.exists()
    assert not OpsAction.objects.exists()


# Who may do what


def test_a_viewer_sees_the_tabs_without_buttons_and_may_not_run_anything(
    client, viewer, delayed, django_capture_on_commit_callbacks
):
    register_periodic_jobs()
    client.force_login(viewer)

    for name in ["ops:busy", "ops:scheduled", "ops:cron"]:
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert "Run now" not in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        for url in [run_now_url(delayed), reverse("ops:cron-run-now", args=[PRUNE])]:
            assert [client.get(url).status_code, client.post(url).status_code] == [403, 403]

    assert scheduled_ids() == [str(delayed.id)]
    delayed.refresh_from_db()
    assert delayed.status == "scheduled"
    assert list(JobRecord.objects.all()) == [delayed]
    assert not OpsAction.objects.exists()


# Cost


def cost_of(client, url, limit=None):
    """The page, and the Redis round trips and queries it cost once warmed up, within
    the query `limit` (a django_assert_max_num_queries) when one is given."""
    client.get(url)  # sessions and pooled connections warmed up
    with (
        limit or contextlib.nullcontext(),
        redis_round_trips() as sent,
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.get(url)
    assert response.status_code == 200
    return response, len(sent), len(queries)


def test_the_scheduled_tab_costs_the_same_for_fifty_jobs_as_for_five(
    staff_client, enqueue, alice, redis, django_assert_max_num_queries
):
    def schedule(count):
        for index in range(count):
            enqueue(tasks.succeed, index, owner=alice, delay=timedelta(minutes=index + 1))
        django_rq.get_queue("low").enqueue_in(timedelta(hours=2), tasks.succeed.module_path, 0)

    schedule(5)
    five, five_trips, five_queries = cost_of(staff_client, reverse("ops:scheduled"))
    redis.flushdb()
    JobRecord.objects.all().delete()
    schedule(50)

    fifty, fifty_trips, _ = cost_of(
        staff_client, reverse("ops:scheduled"), django_assert_max_num_queries(five_queries)
    )

    assert (len(five.context["jobs"]), len(fifty.context["jobs"])) == (6, 51)
    assert fifty_trips == five_trips


def test_the_busy_tab_costs_the_same_for_fifty_jobs_as_for_five(
    staff_client, enqueue, alice, redis, django_assert_max_num_queries
):
    def running(count):
        # Jobs as a worker that died left them: in the started registry, with no worker.
        registry = django_rq.get_queue("default").started_job_registry
        for index in range(count):
            record = enqueue(tasks.succeed, index, owner=alice)
            redis.zadd(registry.key, {f"{record.id}:execution-{index}": 9_999_999_999})

    running(5)
    five, five_trips, five_queries = cost_of(staff_client, reverse("ops:busy"))
    redis.flushdb()
    JobRecord.objects.all().delete()
    running(50)

    fifty, fifty_trips, _ = cost_of(
        staff_client, reverse("ops:busy"), django_assert_max_num_queries(five_queries)
    )

    assert (len(five.context["jobs"]), len(fifty.context["jobs"])) == (5, 50)
    assert all(job.worker is None and job.owner == alice for job in fifty.context["jobs"])
    assert "No live worker" in fifty.content.decode()
    assert fifty_trips == five_trips


def test_the_cron_tab_costs_the_same_for_twelve_entries_as_for_three(
    staff_client, redis, django_assert_max_num_queries
):
    others = sorted((job for job in registry.values() if not job.cron), key=lambda job: job.name)

    def entries(count):
        """Our two entries, and more each running another declared job that ran once."""
        register_periodic_jobs()
        for job in others[: count - 2]:
            get_scheduler().cron("*/5 * * * *", func=job.module_path, id=f"extra-{job.name}")
            JobRecord.objects.create(kind=job.name, func=job.module_path, status="finished")

    entries(3)
    three, three_trips, three_queries = cost_of(staff_client, reverse("ops:cron"))
    redis.flushdb()
    entries(12)

    twelve, twelve_trips, _ = cost_of(
        staff_client, reverse("ops:cron"), django_assert_max_num_queries(three_queries)
    )

    assert (len(three.context["entries"]), len(twelve.context["entries"])) == (3, 12)
    assert sum(entry.last is not None for entry in twelve.context["entries"]) == 10
    assert twelve_trips == three_trips
