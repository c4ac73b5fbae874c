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
from accounts.selectors import account_deletion_pending, digest_context, digest_recipients
from jobs.idempotency import once
from jobs.mail import send_email
from jobs.models import JobRecord
from jobs.services import job_cancel
from jobs.tracking import current_record, report_progress
from uploads.selectors import has_photos, photos_for_user
from uploads.services import photo_files_delete

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


def password_reset_request(*, user, uid, token, domain, protocol):
    """Record the reset email as a job; the job renders and sends it."""
    return tasks.send_password_reset_email.enqueue(
        user.pk, uid, token, domain, protocol, owner=user
    )


def password_reset_email_send(*, user, uid, token, domain, protocol):
    """Send the reset link, once per token however often the job runs."""
    report_progress(50, "Sending the password reset email")
    sent = _email_once(
        f"password_reset:{user.pk}:{token}",
        to=user,
        subject="Reset your password on the photo site",
        template="emails/password_reset.txt",
        context={"user": user, "uid": uid, "token": token, "domain": domain, "protocol": protocol},
    )
    return {"sent": sent, "to": user.email}


@transaction.atomic
def account_deletion_schedule(*, user):
    """Schedule the account's deletion after ACCOUNT_DELETION_GRACE_SECONDS.

    Returns (record, created). While one deletion is waiting, asking again returns it
    and schedules nothing more; the user's row is locked so two requests cannot both.
    """
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    if pending := account_deletion_pending(user):
        return pending, False
    grace = timedelta(seconds=settings.ACCOUNT_DELETION_GRACE_SECONDS)
    return tasks.delete_account.using(delay=grace).enqueue(user.pk, owner=user), True


def account_deletion_cancel(*, user):
    """Cancel the waiting deletion: its row says canceled, RQ's scheduled registry drops it.

    False when there is none, or it has started already (then it runs to its end).
    """
    pending = account_deletion_pending(user)
    return bool(pending) and job_cancel(record=pending, reason="Canceled by its owner")


def account_delete(*, user_id):
    """The delete_account job: the user, what cascades, and their photos' stored files.

    A canceled deletion never gets here (the job's row must move from waiting to
    started, which a cancel prevents); this checks the row again under a lock, so a
    cancel at the same moment either wins or is refused as too late.
    """
    User = get_user_model()
    record = current_record()
    with transaction.atomic():
        if record is not None:
            row = JobRecord.objects.select_for_update().filter(pk=record.pk).first()
            if row is None or row.status == JobRecord.Status.CANCELED:
                return {"deleted": False, "reason": "canceled"}
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return {"deleted": False, "reason": "no such account"}
        others = JobRecord.objects.filter(owner=user, status__in=JobRecord.WAITING)
        if record is not None:
            others = others.exclude(pk=record.pk)
        for other in others:  # their rows go with the user; RQ must not run them
            job_cancel(record=other, reason="The account was deleted")
        photos = list(photos_for_user(user).values_list("id", "original_ext"))
    # Stored files first: a retry after a storage error finds the user and tries again.
    for photo_id, ext in photos:
        photo_files_delete(photo_id=str(photo_id), owner_id=user_id, original_ext=ext)
    report_progress(80, "Deleting the account")
    user.delete()  # profile, photos and job rows (this one too) cascade
    return {"deleted": True, "photos": len(photos)}


def _email_once(key, *, to, subject, template, context):
    """Send one email to the user `to`, once per `key` however often the job runs."""
    body = render_to_string(template, context)
    return once(key, lambda: send_email(subject=subject, body=body, to=to.email))
