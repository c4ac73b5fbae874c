"""The demo's slow step: one real email through the configured email backend, after a
pause of DEMO_STEP_SECONDS that stands for a slow mail server."""

import time

from django.conf import settings
from django.core.mail import send_mail


def demo_step_run(*, to: str) -> float:
    """Do the slow step and return how long it took, in seconds."""
    started = time.perf_counter()
    time.sleep(settings.DEMO_STEP_SECONDS)
    send_mail(
        subject="Demo: the slow step",
        message="This email was sent by the demo's slow step.",
        from_email=None,
        recipient_list=[to],
    )
    return time.perf_counter() - started
