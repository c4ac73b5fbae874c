"""Periodic jobs: registered in rq-scheduler from settings.PERIODIC_JOBS.

rq-scheduler keeps cron entries in Redis, so a scheduler that registered them blindly
on every start would pile up duplicates. Each entry here has a stable id ("periodic-"
plus its name): registering again overwrites the same entry, and entries that left the
list are removed.

A cron entry does not run the task itself. It runs fire(), which records a job row and
enqueues the task like any other job, so every run is tracked, retried and visible.
"""

import os
import time

import django_rq
from django.conf import settings

from jobs.services import job_enqueue

PREFIX = "periodic-"  # RQ job ids allow letters, digits, "_" and "-"


def use_utc_clock():
    """Make this process's local time UTC, so that cron strings mean UTC.

    rq-scheduler computes the next run from the naive local clock and then converts it
    to UTC: on a machine set to Europe/Amsterdam, "0 9 * * *" would be 09:00 there.
    The scheduler process pins its clock to UTC, so the settings mean what they say
    on any machine.
    """
    os.environ["TZ"] = "UTC"
    time.tzset()


def get_scheduler():
    return django_rq.get_scheduler("default")


def register_periodic_jobs(scheduler=None):
    """Make rq-scheduler's entries match settings.PERIODIC_JOBS exactly. Idempotent."""
    scheduler = scheduler or get_scheduler()
    wanted = {PREFIX + entry["id"]: entry for entry in settings.PERIODIC_JOBS}
    for job_id, entry in wanted.items():
        scheduler.cron(
            entry["cron"],
            func="jobs.schedules.fire",
            args=[entry["func"], entry["id"], entry["queue"]],
            id=job_id,
            queue_name=entry["queue"],
            description=f"{entry['id']} ({entry['cron']} UTC)",
            use_local_timezone=False,
        )
    for job in scheduler.get_jobs():
        if job.id.startswith(PREFIX) and job.id not in wanted:
            scheduler.cancel(job)
            job.delete()
    return periodic_jobs(scheduler)


def periodic_jobs(scheduler=None):
    """Our cron entries with their next run time (UTC), soonest first."""
    scheduler = scheduler or get_scheduler()
    return [
        {"id": job.id, "cron": job.meta.get("cron_string"), "func": job.args[0], "next_run": when}
        for job, when in scheduler.get_jobs(with_times=True)
        if job.id.startswith(PREFIX)
    ]


def fire(func, name, queue):
    """What a cron entry runs: record and enqueue the periodic task as a tracked job."""
    record = job_enqueue(func=func, kind=name.replace("-", "_"), queue=queue)
    return str(record.id)
