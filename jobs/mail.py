"""Every email a job sends goes through here, under the shared email rate limit."""

from django.core.mail import send_mail

from jobs.conf import jobs_settings
from jobs.demo.controls import raise_if_failing
from jobs.ratelimit import slot_or_run_later


def send_email(*, subject: str, body: str, to: str) -> None:
    slot_or_run_later(
        "email",
        limit=jobs_settings.EMAIL_RATE_LIMIT,
        window_seconds=jobs_settings.EMAIL_RATE_WINDOW_SECONDS,
    )
    raise_if_failing("smtp")  # the demo control's outage; nothing unless DEMO_CONTROLS is on
    send_mail(subject=subject, message=body, from_email=None, recipient_list=[to])
