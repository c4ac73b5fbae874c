from django.contrib.auth import get_user_model
from django.db.models import F, OuterRef, Q
from django.db.models.functions import Coalesce

from accounts import tasks
from jobs.models import JobRecord
from jobs.selectors import jobs_ended_between, jobs_ended_exist
from uploads.selectors import photos_added_between, photos_added_exist


def digest_kinds():
    """The digest's own jobs: a digest is not news for the next digest."""
    return (tasks.send_digests.name, tasks.send_digest_email.name)


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
            | jobs_ended_exist(owner, since, exclude_kinds=digest_kinds())
        )
        .order_by("pk")
    )


def digest_context(*, user, day, since, until):
    """What `user`'s digest for `day` lists: photos added and jobs ended in (since, until]."""
    return {
        "user": user,
        "day": day,
        "photos": list(photos_added_between(user, since, until)),
        "jobs": list(jobs_ended_between(user, since, until, exclude_kinds=digest_kinds())),
    }


def account_deletion_pending(user):
    """The user's scheduled account deletion (a JobRecord still waiting), or None."""
    return (
        JobRecord.objects.filter(
            kind=tasks.delete_account.name, owner=user, status__in=JobRecord.WAITING
        )
        .order_by("-created_at")
        .first()
    )
