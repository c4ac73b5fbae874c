"""Account emails: welcome, the first-photo reminder, and the daily digest.

Signup flow: accounts.views.signup -> accounts.services.user_signup (user row + job row,
one transaction) -> jobs.services.job_enqueue (pushes to RQ on commit) -> an RQ worker
runs send_welcome_email -> jobs.tracking updates the row -> /jobs/<uuid>/ shows it.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Profile
from accounts.selectors import DIGEST_KINDS, digest_recipients
from jobs.idempotency import once
from jobs.mail import send_email
from jobs.selectors import jobs_ended_between
from jobs.services import job_enqueue, job_enqueue_many
from jobs.tracking import report_progress, tracked
from uploads.selectors import has_photos, photos_added_between

WELCOME_RETRIES = 5  # exponential backoff: 2, 4, 8, 16, 32 seconds by default
DAY = 24 * 3600


def enqueue_welcome_email(user):
    return job_enqueue(
        func="accounts.tasks.send_welcome_email",
        kind="welcome_email",
        args=[user.pk],
        owner=user,
        queue="high",
        retries=WELCOME_RETRIES,
        timeout=60,
        result_ttl=DAY,  # removeOnComplete: {age: 24h}
        failure_ttl=7 * DAY,  # removeOnFail: {age: 7 days}
    )


def enqueue_first_photo_reminder(user):
    return job_enqueue(
        func="accounts.tasks.send_first_photo_reminder",
        kind="first_photo_reminder",
        args=[user.pk],
        owner=user,
        queue="high",
        retries=3,
        timeout=60,
        delay=timedelta(seconds=settings.FIRST_PHOTO_REMINDER_DELAY_SECONDS),
        result_ttl=DAY,
        failure_ttl=7 * DAY,
    )


@tracked
def send_welcome_email(user_id):
    user = get_user_model().objects.get(pk=user_id)
    report_progress(50, "Sending the welcome email")
    sent = once(
        f"welcome_email:{user_id}",
        lambda: send_email(
            subject="Welcome to the photo site",
            body=render_to_string("emails/welcome.txt", {"user": user}),
            to=user.email,
        ),
    )
    return {"sent": sent, "to": user.email}


@tracked
def send_first_photo_reminder(user_id):
    """Runs a day after signup; by then an upload has made it unnecessary, or not."""
    user = get_user_model().objects.get(pk=user_id)
    if has_photos(user):
        return {"sent": False, "reason": "already uploaded a photo"}
    sent = once(
        f"first_photo_reminder:{user_id}",
        lambda: send_email(
            subject="Your first photo is one click away",
            body=render_to_string("emails/first_photo_reminder.txt", {"user": user}),
            to=user.email,
        ),
    )
    return {"sent": sent}


@tracked
def send_digests(day=None):
    """Fan out one digest_email job per user with news since their last digest.

    Job ids are derived from (user, day), so this job can run twice, or again after
    dying halfway, and every user still gets exactly one digest that day.
    """
    until = timezone.now()
    day = day or until.date().isoformat()
    recipients = digest_recipients().values_list("pk", flat=True)
    total = recipients.count()
    queued, last = 0, 0
    # Keyset pages (pk > last), not offsets: users drop out of this query as their
    # digests are sent, which would shift offsets and skip people.
    while batch := list(recipients.filter(pk__gt=last)[: settings.DIGEST_BATCH_SIZE]):
        last = batch[-1]
        job_enqueue_many(
            func="accounts.tasks.send_digest_email",
            kind="digest_email",
            queue="low",
            retries=5,
            timeout=60,
            result_ttl=DAY,
            failure_ttl=7 * DAY,
            jobs=[(digest_job_id(pk, day), [pk, day, until.isoformat()], pk) for pk in batch],
        )
        queued += len(batch)
        report_progress(100 * queued // max(total, 1), f"Queued {queued} of {total} digests")
    return {"day": day, "recipients": queued}


def digest_job_id(user_id, day):
    return uuid.uuid5(uuid.NAMESPACE_URL, f"digest_email:{user_id}:{day}")


@tracked
def send_digest_email(user_id, day, until):
    user = get_user_model().objects.get(pk=user_id)
    profile, _ = Profile.objects.get_or_create(user=user)
    if not profile.digest_opt_in:
        return {"sent": False, "reason": "opted out"}
    until = datetime.fromisoformat(until)
    since = profile.last_digest_at or user.date_joined
    context = {
        "user": user,
        "day": day,
        "photos": list(photos_added_between(user, since, until)),
        "jobs": list(jobs_ended_between(user, since, until, exclude_kinds=DIGEST_KINDS)),
    }
    sent = once(
        f"digest_email:{user_id}:{day}",
        lambda: send_email(
            subject=f"Your photo site digest for {day}",
            body=render_to_string("emails/digest.txt", context),
            to=user.email,
        ),
    )
    Profile.objects.filter(pk=profile.pk).update(last_digest_at=until)
    return {"sent": sent, "photos": len(context["photos"]), "jobs": len(context["jobs"])}
