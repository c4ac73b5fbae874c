"""Rows recorded before the jobs were declared get their declared names (0003)."""

import importlib

import pytest
from django.apps import apps
from django.utils.module_loading import import_string

from jobs.models import JobRecord

pytestmark = pytest.mark.django_db
migration = importlib.import_module("jobs.migrations.0003_declared_job_names")


def test_old_rows_get_the_declared_kind_and_a_path_that_imports():
    resize = JobRecord.objects.create(kind="resize_image", func="uploads.tasks.resize_image")
    publish = JobRecord.objects.create(kind="upload_to_s3", func="uploads.tasks.upload_to_s3")
    welcome = JobRecord.objects.create(
        kind="welcome_email", func="accounts.tasks.send_welcome_email"
    )

    migration.rename(apps, None)

    for record in (resize, publish, welcome):
        record.refresh_from_db()
        declared = import_string(record.func)
        assert (record.kind, record.func) == (declared.name, declared.module_path)


def test_it_can_be_undone():
    record = JobRecord.objects.create(kind="publish_photo", func="uploads.tasks.publish_photo")

    migration.rename(apps, None, backwards=True)

    record.refresh_from_db()
    assert (record.kind, record.func) == ("upload_to_s3", "uploads.tasks.upload_to_s3")
