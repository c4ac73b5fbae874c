"""The job engine's settings, each with its default and what it means.

The engine reads its settings only through `jobs_settings`, so `jobs/` runs in another
project with nothing more than "jobs" in INSTALLED_APPS and RQ_QUEUES: whatever the
project does not set comes from `Defaults` below. Values are read on every access, so
`override_settings` in tests and a changed settings module both take effect.
"""

from django.conf import settings


class Defaults:
    """The default of every engine setting. The attribute docstrings are the reference."""

    RQ_QUEUE_NAMES: list[str] | None = None
    """The queues, in the order workers take them. None means the keys of RQ_QUEUES."""

    JOB_RETRY_BASE_SECONDS: int = 2
    """A job's n-th retry waits base * 2**(n-1) seconds: 2, 4, 8, 16, ..."""

    JOB_RECORD_RETENTION_DAYS: int = 30
    """prune_job_records deletes rows of jobs that ended longer ago than this."""

    JOBS_SWEEP_INTERVAL: int = 60
    """Seconds between two passes of the recovery sweeper (jobs.sweeper)."""

    JOBS_SWEEP_BATCH: int = 1000
    """The most rows one sweeper step reads in a pass."""

    JOBS_WORKER_TTL: int = 15
    """A worker whose heartbeat is older than this many seconds is dead."""

    JOBS_STATS_FLUSH_SECONDS: float = 1.0
    """How often, at most, a process writes the chart figures it counted (jobs.stats)."""

    EMAIL_RATE_LIMIT: int = 100
    """Emails all workers together may send per window (jobs.mail)."""

    EMAIL_RATE_WINDOW_SECONDS: int = 60
    """The window of EMAIL_RATE_LIMIT."""

    QUEUE_ALERT_WAITING: int = 1000
    """A queue with more waiting jobs than this is flagged as backlogged."""

    QUEUE_ALERT_AGE_SECONDS: int = 600
    """A queue whose oldest waiting job has waited longer than this is backlogged."""

    METRICS_TOKEN: str = ""
    """The bearer token /metrics requires. Empty: /metrics answers 404."""


class JobsSettings:
    """Django's settings where the project sets them, else `Defaults`."""

    def __getattr__(self, name: str):
        if not hasattr(Defaults, name) or name.startswith("_"):
            raise AttributeError(f"{name} is not a setting of the job engine")
        value = getattr(settings, name, getattr(Defaults, name))
        if name == "RQ_QUEUE_NAMES" and value is None:
            return list(settings.RQ_QUEUES)
        return value

    def __dir__(self):
        return [name for name in vars(Defaults) if name.isupper()]


jobs_settings = JobsSettings()
