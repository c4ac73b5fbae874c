import pytest
from django.urls import reverse

from jobs.models import JobRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_job(alice):
    return JobRecord.objects.create(
        kind="send_welcome_email",
        owner=alice,
        func="accounts.tasks.send_welcome_email",
        args=[alice.pk],
    )


def test_the_json_has_the_public_fields(client, alice, alices_job):
    client.force_login(alice)

    data = client.get(f"/jobs/{alices_job.id}.json").json()

    assert {
        "id",
        "kind",
        "status",
        "progress",
        "stage",
        "attempts",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    } <= set(data)
    assert data["id"] == str(alices_job.id)
    assert data["status"] == "pending"
    assert data["terminal"] is False


def test_the_page_polls_the_json(client, alice, alices_job):
    client.force_login(alice)

    response = client.get(f"/jobs/{alices_job.id}/")

    assert f'data-job-poll="/jobs/{alices_job.id}.json"' in response.content.decode()
    assert b"waits for the queue" in response.content


def test_my_jobs_lists_only_mine_newest_first(client, alice, bob, alices_job):
    newer = JobRecord.objects.create(kind="send_digest_email", owner=alice, func="x.y")
    JobRecord.objects.create(kind="bobs_job", owner=bob, func="x.y")
    client.force_login(alice)

    records = list(client.get(reverse("jobs:list")).context["records"])

    assert records == [newer, alices_job]


@pytest.mark.parametrize("url", ["/jobs/{id}/", "/jobs/{id}.json"])
def test_bob_gets_404_for_alices_job(client, bob, alices_job, url):
    client.force_login(bob)
    assert client.get(url.format(id=alices_job.id)).status_code == 404


@pytest.mark.parametrize("url", ["/jobs/{id}/", "/jobs/{id}.json"])
def test_staff_get_404_for_someone_elses_job_too(client, staff, alices_job, url):
    client.force_login(staff)  # they read it on /ops/ and in the admin
    assert client.get(url.format(id=alices_job.id)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, alices_job):
    response = client.get(f"/jobs/{alices_job.id}.json")
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_an_unknown_job_is_404(client, alice):
    client.force_login(alice)
    assert client.get("/jobs/00000000-0000-0000-0000-000000000000.json").status_code == 404
