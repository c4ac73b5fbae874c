import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import models

from jobs.models import JobRecord
from jobs.selectors import job_public_error

JobStatus = JobRecord.Status
ENDED_BADLY = (JobStatus.FAILED, JobStatus.CANCELED)


@dataclass(frozen=True)
class PhotoState:
    """Where a photo is: its status, the stage in words, and its progress (0-100)."""

    status: str
    stage: str
    progress: int


class Photo(models.Model):
    """An uploaded image and the two jobs that make it viewable.

    Storage keys are derived from the id (see uploads.storage), never from the client's
    file name, so a retried job writes the same objects again instead of new ones.
    """

    class Status(models.TextChoices):
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="photos"
    )
    batch = models.UUIDField(db_index=True, help_text="Photos uploaded in one request.")
    original_name = models.CharField(max_length=200, help_text="For display only.")
    original_format = models.CharField(max_length=8)
    original_ext = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    variants = models.JSONField(
        default=dict, blank=True, help_text="name -> {width, height, content_type, ext}"
    )
    resize_job = models.ForeignKey(
        JobRecord, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    publish_job = models.ForeignKey(
        JobRecord, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self):
        return f"{self.original_name} ({self.id})"

    @property
    def status(self):
        return self.state.status

    @property
    def state(self) -> PhotoState:
        """Where the photo is, derived from its two jobs. Pages, JSON and emails all read
        it here. Resizing is the first 70% of the bar, publishing the rest."""
        resize, publish = self.resize_job, self.publish_job
        if self.published_at:
            return PhotoState(self.Status.READY, "Done", 100)
        jobs = [job for job in (resize, publish) if job]
        # No jobs left means they ended long ago and were pruned, without publishing.
        if not jobs:
            return PhotoState(self.Status.FAILED, "Failed: unknown error", 0)
        if any(job.status in ENDED_BADLY for job in jobs):
            failed = next((job for job in jobs if job.status == JobStatus.FAILED), None)
            reason = job_public_error(failed) if failed else "canceled"
            return PhotoState(self.Status.FAILED, f"Failed: {reason}", 0)
        if resize and resize.status == JobStatus.STARTED:
            return PhotoState(
                self.Status.PROCESSING, f"Resizing {resize.progress}%", resize.progress * 7 // 10
            )
        if resize and resize.status == JobStatus.FINISHED:
            progress = publish.progress if publish else 0
            return PhotoState(self.Status.PROCESSING, "Publishing", 70 + progress * 3 // 10)
        return PhotoState(self.Status.PROCESSING, "Received", 0)
