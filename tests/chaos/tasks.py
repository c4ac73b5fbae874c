"""Jobs for the fault suite, declared like the app's own."""

import time

from jobs.base import job
from jobs.idempotency import once
from jobs.mail import send_email
from jobs.tracking import report_progress


def recipient(index):
    return f"chaos-{index}@example.com"


@job(queue="default")
def deliver(index, seconds):
    """Work for `seconds`, then send one email under an idempotency key.

    The work comes first so that a kill aimed at a running job lands in it, before the
    email: a kill between the SMTP server's reply and the claim being marked done is the
    one case once() documents as sent twice, and no test can aim a kill that finely.
    """
    report_progress(10, "Working")
    time.sleep(seconds)
    report_progress(90, "Sending")
    sent = once(
        f"chaos-email:{index}",
        lambda: send_email(
            subject=f"chaos {index}", body=f"Chaos message {index}.", to=recipient(index)
        ),
    )
    return {"index": index, "sent": sent}
