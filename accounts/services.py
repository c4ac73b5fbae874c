"""Writes for accounts: signup, the profile, and the emails account jobs send."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts import tasks  # tasks imports this module too; each uses the other at call time
from accounts.models import Profile
from accounts.selectors import digest_context, digest_recipients
from jobs.idempotency import once
from jobs.mail import send_email
from jobs.tracking import report_progress
from uploads.selectors import has_photos

EMAIL_TAKEN = "An account with this email already exists."


def user_signup(*, username, email, password):
    """Create the user and record their welcome email in the same transaction.

    The job reaches Redis only when this commits; the caller's response never waits
    for SMTP. Two signups with one email (in any case) or one username at the same
    moment both pass the form's checks; the database's unique indexes let one in, and
    the other gets a ValidationError naming the field, as the form would have said.
    """
    try:
        return _user_signup(username=username, email=email, password=password)
    except IntegrityError:
        User = get_user_model()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError({"email": EMAIL_TAKEN}) from None
        if User.objects.filter(username__iexact=username).exists():
            taken = User._meta.get_field("username").error_messages["unique"]
            raise ValidationError({"username": taken}) from None
        raise


@transaction.atomic
def _user_signup(*, username, email, password):
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    Profile.objects.create(user=user)
    welcome = tasks.send_welcome_email.enqueue(user.pk, owner=user)
    reminder_delay = timedelta(seconds=settings.FIRST_PHOTO_REMINDER_DELAY_SECONDS)
    tasks.send_first_photo_reminder.using(delay=reminder_delay).enqueue(user.pk, owner=user)
    return user, welcome


def profile_update(*, user, digest_opt_in):
    Profile.objects.update_or_create(user=user, defaults={"digest_opt_in": digest_opt_in})


def digest_run_now(*, requested_by):
    """Staff's "send the digest now": the same job the cron entry runs."""
    return tasks.send_digests.enqueue(owner=requested_by)


def welcome_email_send(*, user):
    report_progress(50, "Sending the welcome email")
    sent = _email_once(
        f"welcome_email:{user.pk}",
        to=user,
        subject="Welcome to the photo site",
        template="emails/welcome.txt",
        context={"user": user},
    )
    return {"sent": sent, "to": user.email}


def first_photo_reminder_send(*, user):
    """Sent a day after signup, unless an upload has made it unnecessary by then."""
    if has_photos(user):
        return {"sent": False, "reason": "already uploaded a photo"}
    sent = _email_once(
        f"first_photo_reminder:{user.pk}",
        to=user,
        subject="Your first photo is one click away",
        template="emails/first_photo_reminder.txt",
        context={"user": user},
    )
    return {"sent": sent}


def digests_fan_out(*, day=None):
    """Enqueue one send_digest_email job per user with news since their last digest.

    Job ids are derived from (user, day), so this can run twice, or again after dying
    halfway, and every user still gets exactly one digest that day.
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
        tasks.send_digest_email.enqueue_many(
            (digest_job_id(user_id=pk, day=day), [pk, day, until.isoformat()], pk) for pk in batch
        )
        queued += len(batch)
        report_progress(100 * queued // max(total, 1), f"Queued {queued} of {total} digests")
    return {"day": day, "recipients": queued}


def digest_job_id(*, user_id, day):
    return uuid.uuid5(uuid.NAMESPACE_URL, f"digest_email:{user_id}:{day}")


def digest_email_send(*, user, day, until):
    """Send `user` their digest for `day`: what was new from their last one up to `until`."""
    profile, _ = Profile.objects.get_or_create(user=user)
    if not profile.digest_opt_in:
        return {"sent": False, "reason": "opted out"}
    since = profile.last_digest_at or user.date_joined
    context = digest_context(user=user, day=day, since=since, until=until)
    sent = _email_once(
        f"digest_email:{user.pk}:{day}",
        to=user,
        subject=f"Your photo site digest for {day}",
        template="emails/digest.txt",
        context=context,
    )
    Profile.objects.filter(pk=profile.pk).update(last_digest_at=until)
    return {"sent": sent, "photos": len(context["photos"]), "jobs": len(context["jobs"])}


def _email_once(key, *, to, subject, template, context):
    """Send one email to the user `to`, once per `key` however often the job runs."""
    body = render_to_string(template, context)
    return once(key, lambda: send_email(subject=subject, body=body, to=to.email))
