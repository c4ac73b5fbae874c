"""The engine's own periodic housekeeping."""

from datetime import timedelta

from django.utils import timezone

from jobs.base import job
from jobs.conf import jobs_settings
from jobs.services import job_records_prune


# 03:30 UTC every day, a quiet hour
@job(
    queue="low",
    cron="30 3 * * *",
    label="Prune old job records",
    about="Every night, deletes job records older than the retention period.",
)
def prune_job_records():
    retention = timedelta(days=jobs_settings.JOB_RECORD_RETENTION_DAYS)
    return job_records_prune(ended_before=timezone.now() - retention)
