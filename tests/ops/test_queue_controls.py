"""Pausing and resuming a queue from /ops/ (confirmed, audited, staff only), the queues'
state on the overview and in /metrics, and the Workers tab with a real worker."""

import socket

import django_rq
import pytest
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from jobs import pausing
from jobs.models import JobRecord
from jobs.ops.models import OpsAction
from jobs.ops.queue_controls import queue_controls_context
from jobs.services import job_enqueue
from jobs.worker import Worker
from tests.jobs import tasks
from tests.polling import wait_for

pause_url = reverse("ops:queue-pause", args=["default"])
resume_url = reverse("ops:queue-resume", args=["default"])


@pytest.fixture
def registered_worker(redis):
    """A worker on high and default that is alive (its heartbeat is fresh) but runs no loop."""
    worker = Worker([django_rq.get_queue("high"), django_rq.get_queue("default")], connection=redis)
    worker.register_birth()
    yield worker
    worker.register_death()


@pytest.mark.django_db
class TestPauseAndResume:
    def test_the_confirmation_says_what_pausing_does(
        self, staff_client, enqueue, registered_worker
    ):
        enqueue(tasks.succeed, 1)
        enqueue(tasks.succeed, 2)

        response = staff_client.get(pause_url)

        assert response.status_code == 200
        page = " ".join(response.content.decode().split())
        assert "2 jobs waiting stay in the queue" in page
        assert f"worker {registered_worker.name} stops taking its jobs" in page
        assert "running jobs finish" in page
        assert 'name="csrfmiddlewaretoken"' in page
        assert pausing.paused() == set()  # a GET changes nothing

    def test_the_post_pauses_the_queue_and_records_who_did_it(self, staff_client, staff, enqueue):
        enqueue(tasks.succeed, 1)

        response = staff_client.post(pause_url)

        assert response.status_code == 302
        assert pausing.paused() == {"default"}
        [action] = OpsAction.objects.all()
        assert (action.actor, action.verb, action.target, action.details) == (
            staff,
            "pause",
            "queue default",
            {"waiting": 1},
        )

    def test_the_post_resumes_the_queue_and_records_who_did_it(self, staff_client, staff):
        pausing.pause("default")
        pausing.pause("low")

        response = staff_client.post(resume_url)

        assert response.status_code == 302
        assert pausing.paused() == {"low"}
        [action] = OpsAction.objects.all()
        assert (action.actor, action.verb, action.target) == (staff, "resume", "queue default")

    def test_the_confirmation_to_resume_counts_the_waiting_jobs(self, staff_client, enqueue):
        pausing.pause("default")
        enqueue(tasks.succeed, 1)

        page = " ".join(staff_client.get(resume_url).content.decode().split())

        assert "its 1 waiting job again" in page

    def test_a_read_only_viewer_is_refused_and_changes_nothing(self, client, viewer):
        client.force_login(viewer)

        assert client.get(pause_url).status_code == 403
        assert client.post(pause_url).status_code == 403
        assert pausing.paused() == set()
        assert not OpsAction.objects.exists()

    def test_an_unknown_queue_is_a_404(self, staff_client):
        for name in ("nope", "jobs:paused-queues"):
            for url in (
                reverse("ops:queue-pause", args=[name]),
                reverse("ops:queue-resume", args=[name]),
            ):
                assert staff_client.get(url).status_code == 404
                assert staff_client.post(url).status_code == 404
        assert pausing.paused() == set()

    def test_a_post_without_the_csrf_token_is_refused(self, staff):
        client = Client(enforce_csrf_checks=True)
        client.force_login(staff)

        assert client.post(pause_url).status_code == 403
        assert pausing.paused() == set()

        client.get(pause_url)  # the confirmation page sets the token's cookie
        token = client.cookies["csrftoken"].value
        assert client.post(pause_url, {"csrfmiddlewaretoken": token}).status_code == 302
        assert pausing.paused() == {"default"}


@pytest.mark.django_db
class TestOverview:
    def test_the_queue_controls_show_each_queues_state_and_live_workers(
        self, staff, registered_worker
    ):
        pausing.pause("default")

        context = queue_controls_context()
        html = render_to_string("ops/_queue_controls.html", context, request=request_as(staff))

        states = {queue["name"]: queue for queue in context["queue_controls"]}
        assert (states["default"]["paused"], states["high"]["paused"]) == (True, False)
        assert states["default"]["workers"] == [registered_worker.name]
        assert states["low"]["workers"] == []
        assert ">paused</span>" in row(html, "default")
        assert ">running</span>" in row(html, "high")
        assert reverse("ops:queue-resume", args=["default"]) in row(html, "default")
        assert reverse("ops:queue-pause", args=["high"]) in row(html, "high")

    def test_a_read_only_viewer_sees_no_buttons(self, viewer):
        html = render_to_string(
            "ops/_queue_controls.html", queue_controls_context(), request=request_as(viewer)
        )

        assert "running" in row(html, "default")
        assert "/pause/" not in html

    def test_the_overview_panel_includes_them(self, staff_client, registered_worker):
        pausing.pause("default")

        response = staff_client.get(reverse("ops:overview"))

        states = {queue["name"]: queue for queue in response.context["queue_controls"]}
        assert states["default"]["paused"] is True
        assert len(states["default"]["workers"]) == 1
        assert reverse("ops:queue-resume", args=["default"]) in response.content.decode()

    def test_metrics_report_which_queues_are_paused(self, client, settings):
        settings.METRICS_TOKEN = "s3cret-token"
        pausing.pause("low")

        response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})

        paused = {
            sample.labels["queue"]: sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
            if sample.name == "jobs_queue_paused"
        }
        assert paused == {"high": 0, "default": 0, "low": 1}


def request_as(user):
    request = RequestFactory().get("/ops/")
    request.user = user
    return request


def row(html, queue):
    """The table row of `queue` in the rendered controls."""
    return html.split(f'data-queue="{queue}"', 1)[1].split("</tr>", 1)[0]


@pytest.mark.django_db(transaction=True)
def test_the_workers_page_lists_a_real_worker_and_the_job_it_runs(worker_process, client, staff):
    with transaction.atomic():
        record = job_enqueue(func="tests.jobs.tasks.sleep_then_succeed", kind="nap", args=[30])
    process = worker_process("default", "low")
    wait_for(
        lambda: JobRecord.objects.get(pk=record.pk).status == "started", timeout=60, what="the job"
    )
    client.force_login(staff)

    def listed():
        response = client.get(reverse("ops:workers"))
        rows = response.context["workers"]
        return rows if rows and rows[0]["current_job_id"] == str(record.id) else None

    [worker] = wait_for(listed, what="the worker's heartbeat to name the job")
    assert (worker["hostname"], worker["pid"], worker["queues"]) == (
        socket.gethostname(),
        process.pid,
        ["default", "low"],
    )
    assert worker["state"] == "busy"
    assert worker["birth"] is not None and worker["last_heartbeat"] is not None

    page = client.get(reverse("ops:workers")).content.decode()
    assert f'href="{reverse("ops:job", args=[record.id])}"' in page
    assert str(process.pid) in page

    panel = client.get(reverse("ops:workers"), {"panel": "1"}).content.decode()
    assert worker["name"] in panel
    assert "<nav" not in panel
    process.kill()  # rather than wait for the nap to end (its work horse dies with it)
    process.wait()
