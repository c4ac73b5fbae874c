"""Account emails.

Signup flow: accounts.views.signup -> accounts.services.user_signup (user row + job row,
one transaction) -> jobs.services.job_enqueue (pushes to RQ on commit) -> an RQ worker
runs send_welcome_email -> jobs.tracking updates the row -> /jobs/<uuid>/ shows it.
"""

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string

from jobs.idempotency import once
from jobs.services import job_enqueue
from jobs.tracking import report_progress, tracked

WELCOME_RETRIES = 5  # exponential backoff: 2, 4, 8, 16, 32 seconds by default


def enqueue_welcome_email(user):
    return job_enqueue(
        func="accounts.tasks.send_welcome_email",
        kind="welcome_email",
        args=[user.pk],
        owner=user,
        queue="high",
        retries=WELCOME_RETRIES,
        timeout=60,
    )


@tracked
def send_welcome_email(user_id):
    user = get_user_model().objects.get(pk=user_id)
    report_progress(50, "Sending the welcome email")
    context = {"user": user}
    sent = once(
        f"welcome_email:{user_id}",
        lambda: send_mail(
            subject="Welcome to the photo site",
            message=render_to_string("emails/welcome.txt", context),
            from_email=None,
            recipient_list=[user.email],
        ),
    )
    return {"sent": sent, "to": user.email}
