from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import tasks


@transaction.atomic
def user_signup(*, username, email, password):
    """Create the user and record their welcome email in the same transaction.

    The job reaches Redis only when this commits; the caller's response never waits
    for SMTP.
    """
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    welcome = tasks.enqueue_welcome_email(user)
    return user, welcome
