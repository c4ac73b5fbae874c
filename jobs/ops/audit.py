"""The audit trail: every action taken in the operations console, who took it and on what.

Views call record_action() once per action, in the same transaction as the action (a
bulk action records itself when staff confirm it, and its job adds the events as it
works). /ops/ lists the trail; each touched job's timeline shows the event.
"""

import uuid

from jobs.models import JobEvent, JobRecord
from jobs.ops.models import OpsAction

IDS_KEPT = 100  # an action's row lists this many job ids; job_count counts them all
EVENT_BATCH = 1000


def record_action(*, actor, verb, target, job_ids=(), job_count=None, details=None):
    """Write the trail's row for one action and an event on each touched job's record.

    `job_ids` are RQ job ids or record UUIDs; those without a record only count.
    """
    job_ids = [str(job_id) for job_id in job_ids]
    action = OpsAction.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor else "",
        verb=verb,
        target=target[:300],
        job_ids=job_ids[:IDS_KEPT],
        job_count=len(job_ids) if job_count is None else job_count,
        details=details or {},
    )
    job_events(action, job_ids)
    return action


def job_events(action, job_ids):
    """An event naming `action`'s actor on each record among `job_ids`."""
    pks = [pk for pk in (_uuid(job_id) for job_id in job_ids) if pk is not None]
    message = f"{action.actor_name or 'someone'}: {action.verb}"[:300]
    for start in range(0, len(pks), EVENT_BATCH):
        batch = pks[start : start + EVENT_BATCH]
        existing = JobRecord.objects.filter(pk__in=batch).values_list("pk", flat=True)
        JobEvent.objects.bulk_create(
            JobEvent(job_id=pk, kind="staff", message=message, actor_id=action.actor_id)
            for pk in existing
        )


def recent(limit=20):
    return list(OpsAction.objects.all()[:limit])


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
