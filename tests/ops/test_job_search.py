"""/ops/jobs/: the search over job records, its filters, its cost at 100,000 rows, and
the bulk actions over what a filter matches."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from jobs.models import JobRecord
from jobs.ops.forms import JobSearchForm
from jobs.ops.models import OpsAction
from jobs.ops.selectors import job_search
from tests.jobs import tasks

pytestmark = pytest.mark.django_db

Status = JobRecord.Status


def row(kind="succeed", **fields):
    return JobRecord(kind=kind, func=f"tests.jobs.tasks.{kind}", args=[1], **fields)


def found(client, **params):
    response = client.get(reverse("ops:jobs"), params)
    assert response.status_code == 200
    return {str(record.id) for record in response.context["page"]}


@pytest.fixture
def jobs(alice, bob):
    """Six jobs that differ in one filter each."""
    made = JobRecord.objects.bulk_create(
        [
            row(owner=alice, status=Status.FAILED, error="SMTPServerDisconnected: gone"),
            row(owner=bob, status=Status.FINISHED),
            row("always_fail", owner=alice, status=Status.FAILED, error="Flaky: down"),
            row(owner=alice, status=Status.QUEUED, queue="high"),
            row(owner=None, status=Status.SCHEDULED, queue="low"),
            row(owner=bob, status=Status.CANCELED),
        ]
    )
    old = timezone.now() - timedelta(days=3)
    JobRecord.objects.filter(pk=made[5].pk).update(created_at=old)
    return [str(record.id) for record in made]


@pytest.fixture
def looking(client, viewer):
    client.force_login(viewer)
    return client


def test_each_filter_matches_its_jobs(looking, jobs):
    everything = set(jobs)
    assert found(looking) == everything
    assert found(looking, status="failed") == {jobs[0], jobs[2]}
    assert found(looking, kind="always_fail") == {jobs[2]}
    assert found(looking, queue="high") == {jobs[3]}
    assert found(looking, owner="BOB") == {jobs[1], jobs[5]}
    assert found(looking, q="smtpserver") == {jobs[0]}
    assert found(looking, error="Flaky") == {jobs[2]}
    day_ago = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert found(looking, since=day_ago) == everything - {jobs[5]}
    assert found(looking, until=day_ago) == {jobs[5]}
    assert found(looking, status="failed", owner="alice", kind="succeed") == {jobs[0]}


def test_q_finds_a_job_by_its_id_or_a_prefix_of_it(looking, jobs):
    target = jobs[3]

    assert found(looking, q=target) == {target}
    assert found(looking, q=target.upper()) == {target}
    assert found(looking, q=target.replace("-", "")) == {target}
    prefix = target[:8]
    expected = {job for job in jobs if job.startswith(prefix)}
    assert found(looking, q=prefix) == expected
    assert target in expected


def test_every_result_links_to_its_timeline(looking, jobs):
    page = looking.get(reverse("ops:jobs")).content.decode()

    for job_id in jobs:
        assert reverse("ops:job", args=[job_id]) in page


@pytest.mark.parametrize(
    "params",
    [{"status": "exploded"}, {"queue": "nowhere"}, {"since": "yesterday"}, {"q": "x" * 300}],
)
def test_a_bad_filter_is_explained_not_a_server_error(looking, jobs, params):
    response = looking.get(reverse("ops:jobs"), params)

    assert response.status_code == 200
    assert b"Check the filter" in response.content
    assert response.context["page"] is None


def test_results_are_paginated_and_pages_keep_the_filter(looking, alice):
    JobRecord.objects.bulk_create([row(owner=alice, status=Status.FAILED) for _ in range(120)])
    JobRecord.objects.bulk_create([row(status=Status.FINISHED) for _ in range(10)])

    first = looking.get(reverse("ops:jobs"), {"status": "failed"})
    third = looking.get(reverse("ops:jobs"), {"status": "failed", "page": 3})

    assert len(first.context["page"]) == 50
    assert first.context["page"].paginator.count == 120
    assert b"status=failed&amp;page=2" in first.content
    assert len(third.context["page"]) == 20


def plan(form):
    """The database's plan for the first page of a search."""
    assert form.is_valid()
    sql, params = job_search(form)[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return " ".join(str(line[-1]) for line in cursor.fetchall())
        cursor.execute("ANALYZE jobs_jobrecord")
        cursor.execute(f"EXPLAIN {sql}", params)
        return " ".join(line[0] for line in cursor.fetchall())


def test_at_100000_rows_a_page_takes_a_fixed_number_of_queries_read_from_an_index(
    looking, alice, bob, django_assert_max_num_queries
):
    statuses = [Status.FINISHED] * 97 + [Status.FAILED, Status.QUEUED, Status.CANCELED]
    kinds = ["succeed", "always_fail", "send_one_email", "fail_times"]
    JobRecord.objects.bulk_create(
        (
            row(
                kinds[n % 4],
                owner=(alice, bob, None)[n % 3],
                status=statuses[n % 100],
                queue=("default", "high", "low")[n % 7 % 3],
                error="Flaky: down" if statuses[n % 100] == Status.FAILED else "",
            )
            for n in range(100_000)
        ),
        batch_size=5000,
    )
    target = JobRecord.objects.filter(status=Status.QUEUED).first()
    searches = [
        {},
        {"status": "failed"},
        {"kind": "always_fail"},
        {"queue": "high", "status": "canceled"},
        {"owner": "alice"},
        {"q": str(target.id)[:6]},
        {"error": "Flaky"},
        {"status": "failed", "page": 10},
    ]
    for params in searches:
        # session, user, permissions, count, page; the owners come with the page
        with django_assert_max_num_queries(6):
            response = looking.get(reverse("ops:jobs"), params)
        assert response.status_code == 200
        expected = 1 if "q" in params else 50  # six hex digits: one job in 16 million
        assert len(response.context["page"]) == expected, params
    assert found(looking, q=str(target.id)[:6]) == {str(target.id)}

    for params in searches[1:5]:
        # The newest matches come from an index, not from sorting the table.
        described = plan(JobSearchForm(params))
        if connection.vendor == "sqlite":
            assert "USE TEMP B-TREE FOR ORDER BY" not in described, (params, described)
            assert "USING INDEX" in described, (params, described)
        else:
            assert "Seq Scan on jobs_jobrecord" not in described, (params, described)
            assert "Sort" not in described, (params, described)
    # An id prefix is a range of the primary key: the few rows in it are then sorted.
    described = plan(JobSearchForm(searches[5]))
    if connection.vendor == "sqlite":
        assert "sqlite_autoindex_jobs_jobrecord_1 (id>? AND id<?)" in described, described
    else:
        assert "jobs_jobrecord_pkey" in described, described


def test_a_bulk_requeue_over_a_filter_states_the_count_then_runs_as_a_job(
    client, staff, alice, enqueue, run_jobs, django_capture_on_commit_callbacks
):
    failing = [enqueue(tasks.fail_times, f"bulk-{n}", 1, owner=alice) for n in range(3)]
    other = enqueue(tasks.always_fail, owner=alice)
    run_jobs()
    client.force_login(staff)
    params = {"kind": "fail_times", "status": "failed"}

    confirm = client.get(reverse("ops:jobs-bulk", args=["requeue"]), params)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ops:jobs-bulk", args=["requeue"]), params)
    run_jobs()  # the bulk job, then the requeued jobs
    run_jobs()

    assert confirm.status_code == 200
    assert b"Requeue 3 jobs?" in confirm.content
    assert response.status_code == 302
    bulk = JobRecord.objects.get(kind="jobs_bulk_action")
    assert response.url == reverse("ops:bulk", args=[bulk.id])
    assert (bulk.status, bulk.owner, bulk.result["done"]) == ("finished", staff, 3)
    for record in failing:
        record.refresh_from_db()
        assert record.status == "finished"
    other.refresh_from_db()
    assert other.status == "failed"
    action = OpsAction.objects.get()
    assert (action.actor, action.verb, action.job_count) == (staff, "bulk requeue", 3)
    assert action.details["filters"] == params
    page = client.get(reverse("ops:bulk", args=[bulk.id])).content.decode()
    assert "Requeued 3 of 3 jobs" in page


@pytest.mark.parametrize("action", ["cancel", "delete"])
def test_bulk_cancel_and_delete_leave_running_and_unmatched_jobs_alone(
    client, staff, alice, enqueue, run_jobs, redis, django_capture_on_commit_callbacks, action
):
    waiting = [enqueue(tasks.succeed, n, owner=alice, delay=timedelta(hours=1)) for n in range(2)]
    running = JobRecord.objects.create(
        kind="succeed", func="tests.jobs.tasks.succeed", status=Status.STARTED, owner=alice
    )
    unmatched = enqueue(tasks.always_fail, delay=timedelta(hours=1))
    client.force_login(staff)

    confirm = client.get(reverse("ops:jobs-bulk", args=[action]), {"kind": "succeed"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("ops:jobs-bulk", args=[action]), {"kind": "succeed"})
    run_jobs()

    assert b"2 jobs?" in confirm.content
    scheduled = set(redis.zrange("rq:scheduled:default", 0, -1))
    for record in waiting:
        assert str(record.id).encode() not in scheduled
        if action == "cancel":
            record.refresh_from_db()
            assert record.status == "canceled"
        else:
            assert not JobRecord.objects.filter(pk=record.pk).exists()
    running.refresh_from_db()
    assert running.status == "started"
    assert str(unmatched.id).encode() in scheduled
    assert JobRecord.objects.filter(pk=unmatched.pk, status="scheduled").exists()


def test_an_unknown_bulk_action_is_a_404(client, staff):
    client.force_login(staff)

    assert client.get(reverse("ops:jobs-bulk", args=["explode"])).status_code == 404


def test_an_id_prefix_is_a_range_of_the_primary_key():
    form = JobSearchForm({"q": "3F2A-9"})
    assert form.is_valid()

    low, high = form.id_range()

    assert (low, high) == (
        uuid.UUID("3f2a9000-0000-0000-0000-000000000000"),
        uuid.UUID("3f2a9fff-ffff-ffff-ffff-ffffffffffff"),
    )
    assert form.error_text() == ""
    assert JobSearchForm({"q": "abc"}).is_valid()


def test_a_search_that_matches_nothing_says_so(looking, jobs):
    response = looking.get(reverse("ops:jobs"), {"kind": "no_such_kind"})

    assert response.status_code == 200
    assert b"0 jobs match" in response.content
    assert b"No job matches." in response.content
