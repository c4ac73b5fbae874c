import uuid

from django.conf import settings
from django.db import models

from jobs.models import JobRecord


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
        if self.published_at:
            return self.Status.READY
        jobs = [job for job in (self.resize_job, self.publish_job) if job]
        ended_badly = (JobRecord.Status.FAILED, JobRecord.Status.CANCELED)
        # No jobs left means they ended long ago and were pruned, without publishing.
        if not jobs or any(job.status in ended_badly for job in jobs):
            return self.Status.FAILED
        return self.Status.PROCESSING
