import uuid

from django.conf import settings
from django.db import models


class OpsAction(models.Model):
    """The audit trail: one row per action someone took in the operations console.

    Each job the action touched also gets a JobEvent naming the person, so the trail
    shows on the job's timeline too.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    at = models.DateTimeField(auto_now_add=True)
    verb = models.CharField(max_length=32)
    target = models.CharField(max_length=300, help_text="What it acted on, in words.")
    job_ids = models.JSONField(default=list, blank=True, help_text="The first jobs it touched.")
    job_count = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["-at"])]

    def __str__(self):
        return f"{self.actor_name} {self.verb} {self.target} at {self.at}"

    @property
    def record_ids(self):
        """The listed job ids that are UUIDs: those can have a record and a timeline."""
        ids = []
        for job_id in self.job_ids:
            try:
                ids.append(str(uuid.UUID(job_id)))
            except ValueError:
                continue
        return ids
