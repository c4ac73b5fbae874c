"""Rows recorded before jobs were declared with @job: give them their declared names.

A job's kind is now its function's name, and two photo steps were renamed
(resize_image -> resize_photo, upload_to_s3 -> publish_photo), so older rows get the
kind, and where it moved the dotted path, that the declarations give them.
"""

from django.db import migrations

RENAMED = [
    # (old kind, old path, new kind, new path)
    ("welcome_email", None, "send_welcome_email", None),
    ("first_photo_reminder", None, "send_first_photo_reminder", None),
    ("daily_digest", None, "send_digests", None),
    ("digest_email", None, "send_digest_email", None),
    ("upload_confirmation", None, "send_upload_confirmation", None),
    ("resize_image", "uploads.tasks.resize_image", "resize_photo", "uploads.tasks.resize_photo"),
    ("upload_to_s3", "uploads.tasks.upload_to_s3", "publish_photo", "uploads.tasks.publish_photo"),
]


def rename(apps, schema_editor, *, backwards=False):
    JobRecord = apps.get_model("jobs", "JobRecord")
    for old_kind, old_path, new_kind, new_path in RENAMED:
        if backwards:
            old_kind, old_path, new_kind, new_path = new_kind, new_path, old_kind, old_path
        JobRecord.objects.filter(kind=old_kind).update(kind=new_kind)
        if old_path:
            JobRecord.objects.filter(func=old_path).update(func=new_path)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0002_worker_and_claim_holder")]

    operations = [
        migrations.RunPython(rename, lambda apps, editor: rename(apps, editor, backwards=True))
    ]
