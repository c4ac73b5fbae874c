"""Every email a job sends goes through here, under the shared email rate limit."""

from django.conf import settings
from django.core.mail import send_mail

from jobs.ratelimit import slot_or_run_later


def send_email(*, subject, body, to):
    slot_or_run_later(
        "email",
        limit=settings.EMAIL_RATE_LIMIT,
        window_seconds=settings.EMAIL_RATE_WINDOW_SECONDS,
    )
    send_mail(subject=subject, message=body, from_email=None, recipient_list=[to])
