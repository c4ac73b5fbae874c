"""/demo/controls/: development-only switches that make jobs slow, services fail and
workers die, each read by the real code it disturbs."""

import pytest
from django.urls import reverse
from rq import Worker

from accounts.tasks import send_welcome_email
from jobs.demo import controls
from jobs.models import JobRecord
from jobs.ops.models import OpsAction
from tests.factories import make_photo
from tests.polling import wait_for
from uploads import storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_on(settings):
    settings.DEMO_CONTROLS = True


@pytest.mark.parametrize(
    "name, args",
    [
        ("demo:controls", ()),
        ("demo:controls-slow", ()),
        ("demo:controls-fail", ("smtp",)),
        ("demo:controls-kill-worker", ()),
    ],
)
def test_with_demo_controls_off_every_control_is_404_even_for_staff(
    client, staff, settings, name, args
):
    settings.DEMO_CONTROLS = False
    client.force_login(staff)

    page = client.get(reverse(name, args=args))
    action = client.post(reverse(name, args=args), {"seconds": "3"})

    assert (page.status_code, action.status_code) == (404, 404)
    assert not controls.get_connection().exists(controls.SLOW_KEY)


def test_only_staff_who_may_act_reach_the_controls(client, demo_on, alice, viewer, staff):
    statuses = []
    for user in (alice, viewer, staff):
        client.force_login(user)
        statuses.append(client.get(reverse("demo:controls")).status_code)

    assert statuses == [403, 403, 200]


def test_a_viewer_cannot_slow_jobs_down(client, demo_on, viewer, redis):
    client.force_login(viewer)

    response = client.post(reverse("demo:controls-slow"), {"seconds": "3"})

    assert response.status_code == 403
    assert not redis.exists(controls.SLOW_KEY)


def test_slowing_jobs_down_makes_a_job_wait_before_its_work(
    client, demo_on, staff, alice, enqueue, run_jobs, redis
):
    client.force_login(staff)
    client.post(reverse("demo:controls-slow"), {"seconds": "1"})
    record = enqueue(send_welcome_email, alice.pk, owner=alice)

    run_jobs()

    record.refresh_from_db()
    assert record.status == JobRecord.Status.FINISHED
    assert (record.finished_at - record.started_at).total_seconds() >= 1
    assert 0 < redis.ttl(controls.SLOW_KEY) <= controls.SLOW_FOR_SECONDS
    assert OpsAction.objects.get().verb == "demo-slow"


def test_zero_seconds_ends_the_slow_down(client, demo_on, staff, redis):
    client.force_login(staff)
    client.post(reverse("demo:controls-slow"), {"seconds": "5"})

    client.post(reverse("demo:controls-slow"), {"seconds": "0"})

    assert not redis.exists(controls.SLOW_KEY)


@pytest.mark.parametrize("seconds", ["", "abc", "-1", "31"])
def test_a_bad_number_of_seconds_is_explained_not_applied(client, demo_on, staff, redis, seconds):
    client.force_login(staff)

    response = client.post(reverse("demo:controls-slow"), {"seconds": seconds}, follow=True)

    assert response.status_code == 200
    assert b"Seconds must be a whole number from 0 to 30." in response.content
    assert not redis.exists(controls.SLOW_KEY)


def test_failing_smtp_makes_the_welcome_email_retry(
    client, demo_on, staff, alice, enqueue, run_jobs, redis, mailoutbox
):
    client.force_login(staff)
    client.post(reverse("demo:controls-fail", args=["smtp"]))
    record = enqueue(send_welcome_email, alice.pk, owner=alice)

    run_jobs()

    record.refresh_from_db()
    assert (record.status, record.attempts) == (JobRecord.Status.SCHEDULED, 1)  # its retry
    assert "smtp is failing on purpose (demo control)" in record.error
    assert mailoutbox == []
    assert 0 < redis.ttl(controls.FAILING_KEY.format("smtp")) <= controls.FAILURE_SECONDS


def test_failing_storage_makes_publishing_raise_and_only_while_the_control_is_on(
    demo_on, alice, settings
):
    photo = make_photo(alice, variants={"thumb": {"ext": "jpg", "content_type": "image/jpeg"}})
    controls.service_fail(service="storage")

    with pytest.raises(controls.DemoOutage, match="storage is failing on purpose"):
        storage.publish_variant(photo, "thumb")

    settings.DEMO_CONTROLS = False  # the key is still there; the hook no longer reads it
    with pytest.raises(FileNotFoundError):
        storage.publish_variant(photo, "thumb")  # nothing was staged for this photo


def test_an_unknown_service_is_404(client, demo_on, staff):
    client.force_login(staff)

    assert client.post(reverse("demo:controls-fail", args=["dns"])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_kill_worker_sigkills_a_live_worker_on_this_host(
    client, demo_on, staff, redis, worker_process
):
    process = worker_process()
    wait_for(lambda: any(w.pid == process.pid for w in Worker.all(connection=redis)), timeout=30)
    client.force_login(staff)

    response = client.post(reverse("demo:controls-kill-worker"), follow=True)

    assert process.wait(timeout=10) == -9
    assert f"(pid {process.pid}) with SIGKILL".encode() in response.content
    assert OpsAction.objects.get().target.endswith(f"(pid {process.pid})")


def test_kill_worker_says_so_when_no_worker_runs_here(client, demo_on, staff, redis):
    client.force_login(staff)

    response = client.post(reverse("demo:controls-kill-worker"), follow=True)

    assert b"No live worker on this host to kill." in response.content
