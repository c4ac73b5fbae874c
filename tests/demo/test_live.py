"""/demo/live/ and its JSON: queues, live workers and recent jobs, read from real Redis
and real job rows; other people's jobs only in development or for ops, and anonymous; a
cost that does not grow with them."""

import pytest
from django.urls import reverse

from jobs import pausing, states
from jobs.demo import tasks
from jobs.demo.live import live_snapshot
from jobs.worker import SimpleWorker
from tests.jobs import tasks as test_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _instant_step(settings):
    settings.DEMO_STEP_SECONDS = 0


@pytest.fixture
def development(settings):
    """DEMO_CONTROLS on, as under `make run`: everyone's jobs are on the page."""
    settings.DEMO_CONTROLS = True


def queue(snapshot, name):
    return next(queue for queue in snapshot["queues"] if queue["name"] == name)


def test_it_asks_anonymous_visitors_to_log_in(client):
    for name in ("demo:live", "demo:live-status"):
        response = client.get(reverse(name))

        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


def test_it_lists_every_configured_queue_in_order(alice, settings):
    snapshot = live_snapshot(alice)

    assert [queue["name"] for queue in snapshot["queues"]] == list(settings.RQ_QUEUES)
    assert all(queue["waiting"] == 0 and not queue["paused"] for queue in snapshot["queues"])


def test_a_queued_job_waits_in_its_queue_then_finishes(client, alice, enqueue, run_jobs):
    record = enqueue(tasks.run_demo_step, "alice@example.com", owner=alice)
    client.force_login(alice)

    snapshot = client.get(reverse("demo:live-status")).json()

    assert queue(snapshot, "default")["waiting"] == 1
    [card] = snapshot["jobs"]
    assert card["status"] == "queued"
    assert card["label"] == "Demo slow step"
    assert card["queue"] == "default"
    assert card["mine"] is True
    assert card["id"] == str(record.id)
    assert card["url"] == reverse("jobs:detail", args=[record.id])
    assert snapshot["summary"].startswith("1 waiting, 0 running, 0 finished")

    run_jobs()
    snapshot = client.get(reverse("demo:live-status")).json()

    assert queue(snapshot, "default")["waiting"] == 0
    [card] = snapshot["jobs"]
    assert card["status"] == "finished"
    assert card["status_label"] == "Finished"
    assert card["started_at"] and card["finished_at"]
    assert card["worker"]
    assert snapshot["counts"]["finished"] == 1
    assert snapshot["summary"] == "0 waiting, 0 running, 1 finished in the last 5 minutes"


def test_a_job_recorded_but_not_yet_pushed_is_pending(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        tasks.run_demo_step.enqueue("alice@example.com", owner=alice)
        [card] = live_snapshot(alice)["jobs"]

    assert card["status"] == "pending"


def test_someone_elses_job_is_anonymous(development, alice, bob, enqueue, run_jobs):
    enqueue(test_tasks.always_fail, owner=bob)
    run_jobs()

    [card] = live_snapshot(alice)["jobs"]

    assert card["status"] == "failed"
    assert card["mine"] is False
    assert "id" not in card
    assert "url" not in card
    assert not {"owner", "error"} & set(card)
    assert card["key"] and card["key"] != str(card.get("id"))
    assert live_snapshot(bob)["jobs"][0]["mine"] is True


def test_outside_development_people_see_only_their_own_jobs_and_ops_see_everyones(
    alice, bob, viewer, enqueue
):
    mine = enqueue(test_tasks.succeed, 1, owner=alice)
    enqueue(test_tasks.succeed, 2, owner=bob)

    alices = live_snapshot(alice)
    viewers = live_snapshot(viewer)

    assert [card.get("id") for card in alices["jobs"]] == [str(mine.id)]
    assert alices["everyone"] is False
    assert queue(alices, "default")["waiting"] == 2  # the queue's real length
    assert [card["mine"] for card in viewers["jobs"]] == [False, False]
    assert viewers["everyone"] is True


def test_the_cost_is_the_same_for_1_and_20_jobs(
    development, alice, bob, enqueue, django_assert_num_queries, redis_requests
):
    enqueue(test_tasks.succeed, 1, owner=alice)
    redis_requests.clear()
    with django_assert_num_queries(2):
        assert len(live_snapshot(alice)["jobs"]) == 1
    redis_for_one = len(redis_requests)

    for i in range(19):
        enqueue(test_tasks.succeed, i, owner=bob if i % 2 else alice)
    redis_requests.clear()
    with django_assert_num_queries(2):
        assert len(live_snapshot(alice)["jobs"]) == 20
    assert len(redis_requests) == redis_for_one == 1  # no worker: one pipeline


def test_it_shows_at_most_30_recent_jobs(alice, enqueue):
    for i in range(32):
        enqueue(test_tasks.succeed, i, owner=alice)

    assert len(live_snapshot(alice)["jobs"]) == 30


def test_a_paused_queue_shows_paused(alice):
    pausing.pause("low")

    snapshot = live_snapshot(alice)

    assert queue(snapshot, "low")["paused"] is True
    assert queue(snapshot, "default")["paused"] is False


def test_a_live_worker_appears_with_the_job_it_runs(
    development, alice, bob, enqueue, redis, redis_requests
):
    worker = SimpleWorker(["high", "default"], connection=redis)
    worker.register_birth()  # as `rqworker` does: RQ's registry, then our heartbeat
    try:
        [idle] = live_snapshot(alice)["workers"]
        assert idle == {
            "name": worker.name,
            "queues": ["high", "default"],
            "busy": False,
            "job": None,
            "job_key": None,
        }

        record = enqueue(test_tasks.succeed, 1, owner=bob)
        worker.liveness.job_id = str(record.id)  # what execute_job() sets
        worker.liveness.beat()
        redis_requests.clear()
        snapshot = live_snapshot(alice)
        assert len(redis_requests) == 2  # the worker's fields and heartbeat: one pipeline more

        [busy] = snapshot["workers"]
        assert busy["busy"] is True
        assert busy["job"] == "Succeed"
        assert busy["job_key"] == snapshot["jobs"][0]["key"]
        assert str(record.id) not in str(snapshot)
    finally:
        worker.register_death()

    assert live_snapshot(alice)["workers"] == []


def test_a_worker_that_just_took_a_job_is_busy_before_its_next_heartbeat(alice, enqueue, redis):
    worker = SimpleWorker(["default"], connection=redis)
    worker.register_birth()
    try:
        record = enqueue(test_tasks.succeed, 1, owner=alice)
        worker.set_state("busy")  # as RQ does when it takes the job
        states.started(record.id, worker=worker.name)

        [busy] = live_snapshot(alice)["workers"]

        assert busy["busy"] is True
        assert busy["job"] == "Succeed"
    finally:
        worker.register_death()


def test_a_worker_whose_heartbeat_expired_is_not_shown(alice, redis):
    worker = SimpleWorker(["default"], connection=redis)
    worker.register_birth()
    try:
        worker.liveness.stop()  # the heartbeat key goes, as when it expires

        assert live_snapshot(alice)["workers"] == []
    finally:
        worker.liveness = None
        worker.register_death()


def test_the_page_draws_the_lanes_and_the_queues(client, alice, settings):
    client.force_login(alice)

    response = client.get(reverse("demo:live"))

    assert response.status_code == 200
    html = response.content.decode()
    for lane in ("Requests", "Queues", "Workers", "Done"):
        assert f">{lane}</h2>" in html
    for name in settings.RQ_QUEUES:
        assert f'data-queue="{name}"' in html
    assert reverse("demo:live-status") in html
    assert 'aria-live="polite"' in html
    assert reverse("demo:difference") in html


def test_the_json_is_never_cached_and_refuses_posts(client, alice):
    client.force_login(alice)

    response = client.get(reverse("demo:live-status"))

    assert "no-cache" in response["Cache-Control"]
    assert client.post(reverse("demo:live-status")).status_code == 405
