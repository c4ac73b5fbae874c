from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import tasks
from accounts.models import Profile
from jobs.services import job_enqueue


@transaction.atomic
def user_signup(*, username, email, password):
    """Create the user and record their welcome email in the same transaction.

    The job reaches Redis only when this commits; the caller's response never waits
    for SMTP.
    """
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    Profile.objects.create(user=user)
    welcome = tasks.enqueue_welcome_email(user)
    tasks.enqueue_first_photo_reminder(user)
    return user, welcome


def profile_update(*, user, digest_opt_in):
    Profile.objects.update_or_create(user=user, defaults={"digest_opt_in": digest_opt_in})


def digest_run_now(*, requested_by):
    """Staff's "send the digest now": the same job the cron entry runs."""
    return job_enqueue(
        func="accounts.tasks.send_digests", kind="daily_digest", owner=requested_by, queue="low"
    )
