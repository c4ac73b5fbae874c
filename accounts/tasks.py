"""Account emails: welcome, the first-photo reminder, and the daily digest.

Each task loads what its arguments name and calls one service (accounts.services),
which does the work and can be tested without a worker.

Signup flow: accounts.views.signup -> accounts.services.user_signup (user row + job row,
one transaction) -> send_welcome_email.enqueue() (pushed to RQ on commit) -> an RQ
worker runs send_welcome_email -> its row records each step -> /jobs/<uuid>/ shows it.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model

from accounts import services
from jobs.base import job

DAY = timedelta(days=1)  # removeOnComplete: {age: 24h}
WEEK = timedelta(days=7)  # removeOnFail: {age: 7 days}


# Five retries with exponential backoff: 2, 4, 8, 16, 32 seconds by default.
@job(
    queue="high",
    retries=5,
    timeout=60,
    keep_result=DAY,
    keep_failure=WEEK,
    label="Welcome email",
    about="Sends the welcome email to the address you signed up with.",
)
def send_welcome_email(user_id):
    user = get_user_model().objects.get(pk=user_id)
    return services.welcome_email_send(user=user)


# Enqueued at signup with a delay (FIRST_PHOTO_REMINDER_DELAY_SECONDS).
@job(
    queue="high",
    retries=3,
    timeout=60,
    keep_result=DAY,
    keep_failure=WEEK,
    label="First-photo reminder",
    about="A day after signup, reminds you by email to upload a first photo, unless you have.",
)
def send_first_photo_reminder(user_id):
    user = get_user_model().objects.get(pk=user_id)
    return services.first_photo_reminder_send(user=user)


@job(
    queue="low",
    cron=settings.DIGEST_CRON,
    label="Daily digests for everyone",
    about="Once a day, on a cron schedule, queues one digest email for every member.",
)
def send_digests(day=None):
    return services.digests_fan_out(day=day)


@job(
    queue="low",
    retries=5,
    timeout=60,
    keep_result=DAY,
    keep_failure=WEEK,
    label="Daily digest email",
    about="Sends one member the digest of what was new since their last one.",
)
def send_digest_email(user_id, day, until):
    user = get_user_model().objects.get(pk=user_id)
    return services.digest_email_send(user=user, day=day, until=datetime.fromisoformat(until))


# Enqueued by accounts.forms.QueuedPasswordResetForm: the reset request never waits for SMTP.
@job(
    queue="high",
    retries=5,
    timeout=60,
    keep_result=DAY,
    keep_failure=WEEK,
    label="Password reset email",
    about="Sends the link with which you choose a new password.",
)
def send_password_reset_email(user_id, uid, token, domain, protocol):
    user = get_user_model().objects.get(pk=user_id)
    return services.password_reset_email_send(
        user=user, uid=uid, token=token, domain=domain, protocol=protocol
    )


# Enqueued with a delay (ACCOUNT_DELETION_GRACE_SECONDS) by "Delete my account"; the
# profile page's "Cancel deletion" removes it from RQ's scheduled registry.
@job(
    queue="default",
    retries=3,
    timeout=300,
    keep_result=DAY,
    keep_failure=WEEK,
    label="Account deletion",
    about=(
        "Deletes the account, its photos and their files once the grace period is over; "
        "until then it can be canceled."
    ),
)
def delete_account(user_id):
    return services.account_delete(user_id=user_id)
