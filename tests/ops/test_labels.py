"""Ops pages name a job by its label, with its kind beside it in code (jobs.base.label_for_kind,
the `job_label` filter)."""

import pytest
from django.urls import reverse

from accounts.tasks import send_welcome_email
from jobs.base import label_for_kind

pytestmark = pytest.mark.django_db


def test_a_kind_reads_as_its_declared_label_or_as_a_sentence():
    assert label_for_kind("send_welcome_email") == "Welcome email"
    assert label_for_kind("resize_photo") == "Resize a photo"
    assert label_for_kind("no_such_job") == "No such job"
    assert label_for_kind(None) == ""


def test_the_search_and_the_timeline_title_jobs_by_their_label(staff_client, alice, enqueue):
    record = enqueue(send_welcome_email, alice.pk, owner=alice)

    search = staff_client.get(reverse("ops:jobs")).content.decode()
    timeline = staff_client.get(reverse("ops:job", args=[record.id])).content.decode()

    assert f'<a href="/ops/jobs/{record.id}/">Welcome email</a>' in search
    assert f'<code class="muted">send_welcome_email · {record.id}</code>' in search
    assert f"<title>Welcome email {record.id}" in timeline
    assert "<h1>Welcome email <code" in timeline
