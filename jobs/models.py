import uuid

from django.conf import settings
from django.db import models


class JobRecord(models.Model):
    """One background job, as people see it.

    RQ keeps a job in Redis only until its result TTL runs out, and loses it outright if
    Redis is wiped. This row is written in the same transaction as the change that caused
    the job, shares its UUID with the RQ job id, and outlives both: status pages read it,
    and it holds everything needed to enqueue the job again (`func`, `args`, `options`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be queued"
        QUEUED = "queued", "Queued"
        SCHEDULED = "scheduled", "Scheduled"
        DEFERRED = "deferred", "Waiting for an earlier step"
        STARTED = "started", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    WAITING = (Status.PENDING, Status.QUEUED, Status.SCHEDULED, Status.DEFERRED)
    TERMINAL = (Status.FINISHED, Status.FAILED, Status.CANCELED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="job_records",
    )
    queue = models.CharField(max_length=32, default="default")
    func = models.CharField(max_length=200, help_text="Dotted path of the task function.")
    args = models.JSONField(default=list, blank=True)
    options = models.JSONField(
        default=dict, blank=True, help_text="RQ options: retry intervals, timeout, TTLs."
    )
    depends_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="dependents"
    )
    run_at = models.DateTimeField(null=True, blank=True, help_text="Set for delayed jobs.")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    worker = models.CharField(
        max_length=200, blank=True, help_text="The RQ worker running (or that last ran) it."
    )
    host = models.CharField(
        max_length=200, blank=True, help_text="host:pid of the process running (or that ran) it."
    )

    request_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="How long the web request that enqueued it took (jobs.middleware).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),
            # The ops search (jobs.ops.selectors.job_search) filters on one of these and
            # shows the newest first.
            models.Index(fields=["-created_at"], name="jobrecord_created"),
            models.Index(fields=["status", "-created_at"], name="jobrecord_status_created"),
            models.Index(fields=["kind", "-created_at"], name="jobrecord_kind_created"),
            models.Index(fields=["queue", "-created_at"], name="jobrecord_queue_created"),
        ]
        permissions = [
            ("view_ops", "Can look at the operations console"),
            ("act_ops", "Can act in the operations console"),
        ]

    def __str__(self):
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_terminal(self):
        return self.status in self.TERMINAL


class JobAttempt(models.Model):
    """One attempt at a job that did not finish, written when it ends: by the worker that
    ran it, or by the sweeper when that worker died.

    The attempt still running, and the one that finished, are the record itself (its
    started_at, finished_at, worker and host): most jobs finish at their first attempt,
    and a row for it would cost each of them an INSERT (jobs.selectors.job_attempts).
    """

    class Outcome(models.TextChoices):
        FINISHED = "finished", "Finished"
        RETRYING = "retrying", "Failed; retrying"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Its worker stopped"

    job = models.ForeignKey(JobRecord, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField()
    duration = models.FloatField(null=True, blank=True, help_text="Seconds it ran.")
    worker = models.CharField(max_length=200, blank=True)
    host = models.CharField(max_length=200, blank=True, help_text="host:pid of the process.")
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number", "ended_at"]
        indexes = [models.Index(fields=["job", "number"])]

    def __str__(self):
        return f"{self.job_id} attempt {self.number} ({self.outcome})"

    @property
    def wait(self):
        """Seconds from queued to started, when both are known."""
        if self.queued_at and self.started_at:
            return max(0.0, (self.started_at - self.queued_at).total_seconds())
        return None


class JobEvent(models.Model):
    """Something that happened to a job besides an attempt: the sweeper recovered it,
    staff requeued or deleted it, it was canceled. `actor` is the person, if one acted."""

    job = models.ForeignKey(JobRecord, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=32)
    message = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["job", "at"]
        indexes = [models.Index(fields=["job", "at"])]

    def __str__(self):
        return f"{self.job_id} {self.kind} at {self.at}"


class IdempotencyKey(models.Model):
    """A side effect that must happen once, whatever RQ retries or redelivers.

    A worker claims the key with a conditional update before acting and marks it done
    after; see jobs.idempotency. The holder is the job attempt that made the claim.
    """

    key = models.CharField(max_length=200, primary_key=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    holder = models.CharField(max_length=64, blank=True)
    holder_attempt = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.key
