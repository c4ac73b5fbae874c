"""The engine's own periodic housekeeping."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs.models import IdempotencyKey, JobRecord
from jobs.tracking import tracked


@tracked
def prune_job_records():
    """Delete old records of jobs that ended; a job still waiting or running is never pruned.

    This is the database's counterpart of RQ's result_ttl and failure_ttl.
    """
    cutoff = timezone.now() - timedelta(days=settings.JOB_RECORD_RETENTION_DAYS)
    ended = JobRecord.objects.filter(status__in=JobRecord.TERMINAL, finished_at__lt=cutoff)
    # A waiting job may depend on an old finished one: keep that one.
    ended = ended.exclude(dependents__status__in=[*JobRecord.WAITING, JobRecord.Status.STARTED])
    deleted, _ = ended.delete()
    keys, _ = IdempotencyKey.objects.filter(done_at__lt=cutoff).delete()
    return {"job_records": deleted, "idempotency_keys": keys}
