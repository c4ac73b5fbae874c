"""Only the owner acts on a photo, an upload or a job through the site's pages; staff act
through the ops pages and the admin. Every page and JSON of someone else's is a 404.

Personas: alice owns everything here, bob is someone else, charlie is staff.
"""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.urls import reverse
from django.utils import timezone

from jobs.models import JobRecord
from tests.factories import jpeg, make_photo
from tests.jobs import tasks
from uploads import storage
from uploads.models import Photo

pytestmark = pytest.mark.django_db

THUMB = {"width": 10, "height": 10, "content_type": "image/jpeg", "ext": "jpg"}

# (method, url name, what it names, what the owner gets)
OWNED_URLS = [
    ("get", "jobs:detail", "job", 200),
    ("get", "jobs:status", "job", 200),
    ("get", "uploads:detail", "photo", 200),
    ("get", "uploads:status", "photo", 200),
    ("get", "uploads:variant", "variant", 200),
    ("get", "uploads:batch", "batch", 200),
    ("get", "uploads:batch-status", "batch", 200),
    ("post", "uploads:retry", "photo", 302),
    ("get", "uploads:delete", "photo", 200),
    ("post", "uploads:delete", "photo", 302),
]
EVERY_URL = [pytest.param(*row, id=f"{row[0]} {row[1]}") for row in OWNED_URLS]
URL = ("method", "name", "names", "owner_gets")


@pytest.fixture
def alices(alice):
    """Alice's welcome job, and a published photo of hers (its thumbnail stored)."""
    job = JobRecord.objects.create(
        kind="send_welcome_email", owner=alice, func="accounts.tasks.send_welcome_email"
    )
    photo = make_photo(alice, variants={"thumb": THUMB}, published_at=timezone.now())
    storages["photos"].save(storage.published_key(photo, "thumb"), ContentFile(jpeg()))
    return {"job": job, "photo": photo}


def url_for(name, names, alices):
    photo = alices["photo"]
    args = {
        "job": [alices["job"].id],
        "photo": [photo.id],
        "variant": [photo.id, "thumb"],
        "batch": [photo.batch],
    }[names]
    return reverse(name, args=args)


def assert_untouched(alices):
    assert Photo.objects.filter(pk=alices["photo"].pk).exists()
    job = JobRecord.objects.get(pk=alices["job"].pk)
    assert (job.status, job.attempts) == ("pending", 0)


@pytest.mark.parametrize(URL, EVERY_URL)
def test_the_owner_reaches_every_page_and_json_of_hers(
    client, alice, alices, method, name, names, owner_gets
):
    client.force_login(alice)

    response = getattr(client, method)(url_for(name, names, alices))

    assert response.status_code == owner_gets


@pytest.mark.parametrize("persona", ["bob", "staff"], ids=["bob", "charlie (staff)"])
@pytest.mark.parametrize(URL, EVERY_URL)
def test_anyone_else_gets_404_and_changes_nothing(
    request, client, alices, persona, method, name, names, owner_gets
):
    client.force_login(request.getfixturevalue(persona))
    url = url_for(name, names, alices)

    response = getattr(client, method)(url)

    assert response.status_code == 404
    if url.endswith(".json"):
        assert response.json() == {"error": "There is nothing here."}
    assert_untouched(alices)


@pytest.mark.parametrize(URL, EVERY_URL)
def test_anonymous_visitors_are_sent_to_log_in(client, alices, method, name, names, owner_gets):
    response = getattr(client, method)(url_for(name, names, alices))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert_untouched(alices)


def test_lists_show_only_the_owners_things(client, bob, staff, alices):
    for persona in (bob, staff):
        client.force_login(persona)
        assert str(alices["job"].id) not in client.get(reverse("jobs:list")).content.decode()
        assert (
            str(alices["photo"].id) not in client.get(reverse("uploads:gallery")).content.decode()
        )


@pytest.fixture
def alices_failed_job(alice, enqueue, run_jobs):
    record = enqueue(tasks.always_fail, owner=alice)
    run_jobs()
    record.refresh_from_db()
    assert record.status == "failed"
    return record


def test_staff_reach_alices_failed_job_through_the_ops_pages_and_the_admin(
    client, staff, alices_failed_job
):
    client.force_login(staff)
    detail = reverse("ops:failed-detail", args=[alices_failed_job.queue, alices_failed_job.id])

    assert str(alices_failed_job.id) in client.get(reverse("ops:failed")).content.decode()
    assert client.get(detail).status_code == 200
    staff.is_superuser = True  # the admin also asks for the model's permissions
    staff.save()
    admin_page = reverse("admin:jobs_jobrecord_change", args=[alices_failed_job.id])
    assert client.get(admin_page).status_code == 200
