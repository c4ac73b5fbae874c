from django.conf import settings
from django.db import models


class Profile(models.Model):
    """Per-person settings. A user without a row gets the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    digest_opt_in = models.BooleanField(
        "Send me the daily digest",
        default=True,
        help_text="One email a day, only when something happened: photos added, "
        "jobs finished or failed.",
    )
    last_digest_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Profile of {self.user}"
