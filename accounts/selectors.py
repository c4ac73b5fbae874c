from django.contrib.auth import get_user_model
from django.db.models import F, OuterRef, Q
from django.db.models.functions import Coalesce

from jobs.selectors import jobs_ended_exist
from uploads.selectors import photos_added_exist

DIGEST_KINDS = ("digest_email", "daily_digest")  # a digest is not news for the next digest


def digest_recipients():
    """Opted-in active users with something new since their last digest (or signup).

    Annotated with `digest_since`; ordered by id, so the fan-out can work in batches.
    """
    owner, since = OuterRef("pk"), OuterRef("digest_since")
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(profile__isnull=True) | Q(profile__digest_opt_in=True))
        .exclude(email="")
        .annotate(digest_since=Coalesce(F("profile__last_digest_at"), F("date_joined")))
        .filter(
            photos_added_exist(owner, since)
            | jobs_ended_exist(owner, since, exclude_kinds=DIGEST_KINDS)
        )
        .order_by("pk")
    )
