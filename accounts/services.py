from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import tasks
from accounts.models import Profile
from jobs.services import job_enqueue

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
