"""Periodic jobs: every declared job with a `cron` string is registered in rq-scheduler.

rq-scheduler keeps cron entries in Redis, so a scheduler that registered them blindly
on every start would pile up duplicates. Each entry here has a stable id, "periodic-"
plus the job's name: registering again overwrites the same entry, and entries whose
job no longer has a cron string are removed.

A cron entry does not run the task itself. It runs fire(), which records a job row and
enqueues the task like any other job, so every run is tracked, retried and visible.
"""

import os
import time

import django_rq

from jobs.base import Job, registry

PREFIX = "periodic-"  # RQ job ids allow letters, digits, "_" and "-"


def use_utc_clock():
    """Make this process's local time UTC, so that cron strings mean UTC.

    rq-scheduler computes the next run from the naive local clock and then converts it
    to UTC: on a machine set to Europe/Amsterdam, "0 9 * * *" would be 09:00 there.
    The scheduler process pins its clock to UTC, so the declarations mean what they say
    on any machine.
    """
    os.environ["TZ"] = "UTC"
    time.tzset()


def get_scheduler():
    return django_rq.get_scheduler("default")


def periodic_declared() -> dict[str, Job]:
    """The declared jobs that have a cron string, by their entry id."""
    return {PREFIX + job.name: job for job in registry.values() if job.cron}


def register_periodic_jobs(scheduler=None):
    """Make rq-scheduler's entries match the declared cron jobs exactly. Idempotent."""
    scheduler = scheduler or get_scheduler()
    wanted = periodic_declared()
    for entry_id, job in wanted.items():
        scheduler.cron(
            job.cron,
            func=fire,
            args=[job.module_path],
            id=entry_id,
            queue_name=job.queue,
            description=f"{job.name} ({job.cron} UTC)",
            use_local_timezone=False,
        )
    for entry in scheduler.get_jobs():
        if entry.id.startswith(PREFIX) and entry.id not in wanted:
            scheduler.cancel(entry)
            entry.delete()
    return periodic_jobs(scheduler)


def periodic_jobs(scheduler=None):
    """Our cron entries with their next run time (UTC), soonest first."""
    scheduler = scheduler or get_scheduler()
    return [
        {"id": job.id, "cron": job.meta.get("cron_string"), "func": job.args[0], "next_run": when}
        for job, when in scheduler.get_jobs(with_times=True)
        if job.id.startswith(PREFIX)
    ]


def fire(module_path):
    """What a cron entry runs: record and enqueue the declared job as a tracked job."""
    record = registry[module_path].enqueue()
    return str(record.id)
