"""Tell staff when a job has failed for good.

RQ's on_failure callback runs after every failed attempt, and never when a work horse
is killed, so it cannot say "this was the last one". jobs.states can: it sends
jobs.signals.job_failed only when its conditional UPDATE moved the row to failed with
no retry left, which happens once per job however often RQ delivers it. This app
(jobs.ops.apps) connects job_failed_alert to that signal.
"""

import logging

from django.core.mail import mail_admins
from django.urls import NoReverseMatch, reverse

logger = logging.getLogger("jobs.alerts")


def job_failed_alert(sender, *, record, error, **kwargs):
    """The job_failed receiver."""
    notify_final_failure(record, error=error)


def notify_final_failure(record, *, error):
    """Mail the ADMINS and log one line: `record` ran out of attempts with `error`."""
    logger.error(
        "job alert id=%s kind=%s queue=%s attempts=%s/%s error=%r",
        record.id,
        record.kind,
        record.queue,
        record.attempts,
        record.max_attempts,
        error,
    )
    owner = record.owner.get_username() if record.owner_id else "nobody"
    try:
        details = reverse("ops:failed-detail", args=[record.queue, record.id])
    except NoReverseMatch:  # a project that did not mount jobs.ops.urls still gets the mail
        details = "the failed-jobs page"
    message = (
        f"The job {record.kind} {record.id} failed after {record.attempts} of "
        f"{record.max_attempts} attempts and will not be retried.\n\n"
        f"Owner: {owner}\nQueue: {record.queue}\nFunction: {record.func}\n"
        f"Error: {error}\n\nTraceback, requeue and delete: {details}\n"
    )
    # An SMTP outage must not turn the job's failure handling into a second failure.
    mail_admins(f"Job failed: {record.kind} {record.id}", message, fail_silently=True)
