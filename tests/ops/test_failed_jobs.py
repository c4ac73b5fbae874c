"""The failed set: listed with its records, requeued or deleted one, some or all at a
time, whatever state RQ's copy of a job is in."""

import django_rq
import pytest
from django.urls import reverse
from rq.job import Job

from jobs.models import JobRecord
from jobs.ops.tasks import requeue_failed_jobs
from tests.jobs import tasks
from tests.ops.conftest import failed_ids

pytestmark = pytest.mark.django_db


def detail_url(job_id, queue="default"):
    return reverse("ops:failed-detail", args=[queue, job_id])


def action_url(action, job_id, queue="default"):
    return reverse(f"ops:failed-{action}", args=[queue, job_id])


def test_it_lists_failed_jobs_with_their_records(staff_client, failed_record):
    response = staff_client.get(reverse("ops:failed"))

    row = next(job for job in response.context["failed"] if job.id == str(failed_record.id))
    assert (row.kind, row.record.owner.username, row.queue) == ("fail_times", "alice", "default")
    assert row.error == "Flaky: run 1 failed"
    assert row.failed_at is not None
    page = response.content.decode()
    assert "1/1" in page
    assert detail_url(failed_record.id) in page


def test_it_lists_a_job_without_a_record_whose_function_does_not_exist(
    staff_client, unimportable_job
):
    response = staff_client.get(reverse("ops:failed"))

    [row] = response.context["failed"]
    assert row.record is None
    assert row.kind == "nonexistent.module.func"
    assert "nonexistent.module.func" in row.error
    assert "nonexistent.module.func" in response.content.decode()


def test_it_lists_failed_jobs_from_every_queue(staff_client, enqueue, run_jobs):
    high = enqueue(tasks.always_fail, queue="high")
    low = enqueue(tasks.always_fail, queue="low")
    run_jobs()

    response = staff_client.get(reverse("ops:failed"))

    listed = {(job.queue, job.id) for job in response.context["failed"]}
    assert listed == {("high", str(high.id)), ("low", str(low.id))}
    assert response.context["total"] == 2


def test_the_detail_page_shows_the_traceback_and_the_arguments(staff_client, failed_record):
    response = staff_client.get(detail_url(failed_record.id))

    page = response.content.decode()
    assert "Traceback (most recent call last)" in page
    assert "raise Flaky(" in page
    assert failed_record.args[0] in page
    assert reverse("admin:jobs_jobrecord_change", args=[failed_record.id]) in page


def test_an_unknown_job_or_queue_is_404(staff_client, failed_record):
    assert staff_client.get(detail_url("no-such-job")).status_code == 404
    assert staff_client.get(detail_url(failed_record.id, queue="nosuchqueue")).status_code == 404
    assert staff_client.get(detail_url(failed_record.id, queue="high")).status_code == 404


def test_requeue_asks_first_and_changes_nothing_until_confirmed(staff_client, failed_record):
    response = staff_client.get(action_url("requeue", failed_record.id))

    assert response.status_code == 200
    assert b'method="post"' in response.content
    assert b"csrfmiddlewaretoken" in response.content
    failed_record.refresh_from_db()
    assert failed_record.status == "failed"


def test_requeue_runs_the_job_again_and_its_owner_watches_it_finish(
    staff_client, client, alice, failed_record, run_jobs
):
    response = staff_client.post(action_url("requeue", failed_record.id))
    assert response.status_code == 302
    assert str(failed_record.id) not in failed_ids()

    client.force_login(alice)
    status_url = reverse("jobs:status", args=[failed_record.id])
    assert client.get(status_url).json()["status"] == "queued"

    run_jobs()

    data = client.get(status_url).json()
    assert (data["status"], data["attempts"]) == ("finished", 2)


def test_requeue_of_a_job_without_a_record_uses_rq(staff_client, unimportable_job):
    staff_client.post(action_url("requeue", unimportable_job.id))

    queue = django_rq.get_queue("default")
    assert unimportable_job.id in queue.get_job_ids()
    assert failed_ids() == []
    assert not JobRecord.objects.exists()


def test_a_requeued_job_whose_function_does_not_exist_fails_again_without_a_500(
    staff_client, unimportable_job, run_jobs
):
    staff_client.post(action_url("requeue", unimportable_job.id))
    assert failed_ids() == []
    run_jobs()

    assert failed_ids() == [unimportable_job.id]
    assert staff_client.get(reverse("ops:failed")).status_code == 200


def test_a_recorded_job_whose_function_does_not_exist_is_closed_then_requeued(
    staff_client, ghost_record, run_jobs
):
    # RQ cannot import the function, so @tracked never runs and the row stays queued.
    record = ghost_record
    run_jobs()
    record.refresh_from_db()
    assert record.status == "queued"
    assert staff_client.get(reverse("ops:failed")).status_code == 200

    staff_client.post(action_url("requeue", record.id))

    record.refresh_from_db()
    assert record.status == "queued"
    assert "nonexistent.module.func" in record.error
    assert str(record.id) in django_rq.get_queue("default").get_job_ids()


def test_deleting_a_stuck_recorded_job_tells_its_owner_it_failed(
    staff_client, ghost_record, run_jobs
):
    record = ghost_record
    run_jobs()

    staff_client.post(action_url("delete", record.id))

    record.refresh_from_db()
    assert record.status == "failed"
    assert "nonexistent.module.func" in record.error
    assert failed_ids() == []


def test_delete_removes_the_job_from_redis_and_keeps_its_record(staff_client, redis, failed_record):
    response = staff_client.post(action_url("delete", failed_record.id))

    assert response.status_code == 302
    assert failed_ids() == []
    assert not redis.exists(Job.key_for(str(failed_record.id)))
    failed_record.refresh_from_db()
    assert failed_record.status == "failed"


def test_delete_of_a_job_without_a_record(staff_client, redis, unimportable_job):
    staff_client.post(action_url("delete", unimportable_job.id))

    assert failed_ids() == []
    assert not redis.exists(unimportable_job.key)


def test_a_job_whose_data_cannot_be_read_is_shown_requeued_and_deleted(
    staff_client, redis, unreadable_job, run_jobs
):
    listing = staff_client.get(reverse("ops:failed"))
    detail = staff_client.get(detail_url(unreadable_job.id))

    assert listing.status_code == detail.status_code == 200
    assert b"cannot be deserialized" in detail.content

    staff_client.post(action_url("requeue", unreadable_job.id))
    assert unreadable_job.id in django_rq.get_queue("default").get_job_ids()
    run_jobs()
    assert failed_ids() == [unreadable_job.id]

    staff_client.post(action_url("delete", unreadable_job.id))
    assert failed_ids() == []
    assert not redis.exists(unreadable_job.key)


def test_a_job_whose_hash_is_damaged_is_shown_and_deleted(staff_client, redis, unimportable_job):
    redis.hdel(unimportable_job.key, "data")

    assert staff_client.get(reverse("ops:failed")).status_code == 200
    detail = staff_client.get(detail_url(unimportable_job.id))
    assert b"cannot be read" in detail.content

    staff_client.post(action_url("requeue", unimportable_job.id), follow=True)
    assert failed_ids() == [unimportable_job.id]

    staff_client.post(action_url("delete", unimportable_job.id))
    assert failed_ids() == []
    assert not redis.exists(unimportable_job.key)


def test_an_id_whose_job_is_gone_cannot_be_requeued_but_can_be_deleted(
    staff_client, vanished_job_id
):
    assert staff_client.get(detail_url(vanished_job_id)).status_code == 200

    response = staff_client.post(action_url("requeue", vanished_job_id), follow=True)
    assert "gone from Redis" in response.content.decode()
    assert failed_ids() == [vanished_job_id]

    staff_client.post(action_url("delete", vanished_job_id))
    assert failed_ids() == []


def test_a_stale_copy_of_a_finished_job_is_not_requeued(staff_client, failed_record):
    JobRecord.objects.filter(pk=failed_record.pk).update(status="finished")

    response = staff_client.post(action_url("requeue", failed_record.id), follow=True)

    assert "stale" in response.content.decode()
    failed_record.refresh_from_db()
    assert failed_record.status == "finished"


def test_requeue_selected_requeues_only_those(
    staff_client, failed_record, unimportable_job, enqueue, run_jobs, post_and_commit
):
    other = enqueue(tasks.always_fail, queue="low")
    run_jobs()
    selected = [f"default:{failed_record.id}", f"default:{unimportable_job.id}"]

    confirm = staff_client.get(reverse("ops:failed-requeue-selected"), {"job": selected})
    assert confirm.status_code == 200
    assert confirm.content.decode().count('type="hidden" name="job"') == 2

    bulk = post_and_commit(reverse("ops:failed-requeue-selected"), {"job": selected})
    assert bulk.args == [selected]
    run_jobs()

    bulk.refresh_from_db()
    assert bulk.result == {"total": 2, "done": 2, "errors": []}
    assert failed_ids("low") == [str(other.id)]
    failed_record.refresh_from_db()
    assert failed_record.status == "finished"  # it ran again, and succeeded this time


def test_delete_selected_deletes_only_those(
    staff_client, failed_record, unimportable_job, run_jobs, post_and_commit
):
    selected = [f"default:{unimportable_job.id}"]

    bulk = post_and_commit(reverse("ops:failed-delete-selected"), {"job": selected})
    assert sorted(failed_ids()) == sorted([str(failed_record.id), unimportable_job.id])
    run_jobs()

    assert failed_ids() == [str(failed_record.id)]
    bulk.refresh_from_db()
    assert bulk.result["done"] == 1


def test_selecting_nothing_or_nonsense_changes_nothing(staff_client, failed_record):
    for data in [{}, {"job": ["nosuchqueue:abc", "default:../../etc", "default"]}]:
        response = staff_client.post(reverse("ops:failed-requeue-selected"), data, follow=True)
        assert "Select at least one job" in response.content.decode()
    assert failed_ids() == [str(failed_record.id)]


def test_requeue_all_requeues_every_queue_and_reports_what_it_could_not(
    staff_client,
    staff,
    failed_record,
    unimportable_job,
    vanished_job_id,
    enqueue,
    run_jobs,
    post_and_commit,
):
    high = enqueue(tasks.always_fail, queue="high")
    run_jobs()

    confirm = staff_client.get(reverse("ops:failed-requeue-all"))
    assert "all 4 failed jobs" in confirm.content.decode()
    assert "background job" in confirm.content.decode()
    bulk = post_and_commit(reverse("ops:failed-requeue-all"))

    # The request only recorded the job: nothing has gone back to its queue yet.
    assert (bulk.kind, bulk.owner, bulk.args) == (requeue_failed_jobs.name, staff, [])
    assert failed_ids("high") == [str(high.id)]
    waiting = staff_client.get(reverse("ops:bulk", args=[bulk.id])).content.decode()
    assert "Queued" in waiting and "refreshes every 5 seconds" in waiting

    run_jobs()

    bulk.refresh_from_db()
    assert bulk.status == "finished"
    assert (bulk.result["total"], bulk.result["done"]) == (4, 3)
    [error] = bulk.result["errors"]
    assert error.startswith(vanished_job_id) and "gone from Redis" in error
    page = staff_client.get(reverse("ops:bulk", args=[bulk.id])).content.decode()
    assert "Requeued 3 of 4 jobs" in page
    assert "gone from Redis" in page
    assert "refreshes" not in page
    failed_record.refresh_from_db()
    assert failed_record.status == "finished"
    # Its owner's status page followed the job through the requeue.
    assert (failed_record.attempts, failed_record.owner.username) == (2, "alice")


def test_delete_all_empties_every_failed_set(
    staff_client,
    failed_record,
    unreadable_job,
    vanished_job_id,
    enqueue,
    run_jobs,
    post_and_commit,
):
    enqueue(tasks.always_fail, queue="low")
    run_jobs()

    bulk = post_and_commit(reverse("ops:failed-delete-all"))
    assert len(failed_ids()) == 3
    run_jobs()

    page = staff_client.get(reverse("ops:bulk", args=[bulk.id])).content.decode()
    assert "Deleted 4 of 4 jobs" in page
    assert failed_ids() == failed_ids("low") == []
    failed_record.refresh_from_db()
    assert failed_record.status == "failed"  # the record stays, as history
