"""Declaring a job: `@job(...)` next to its function, `.enqueue()` where it is needed.

The shape is Django's Tasks framework (django.tasks, DEP 14)::

    @job(queue="high", retries=5, timeout=60, keep_result=DAY, keep_failure=WEEK)
    def send_welcome_email(user_id):
        ...

    send_welcome_email.enqueue(user.pk, owner=user)
    send_welcome_email.using(delay=timedelta(hours=1)).enqueue(user.pk, owner=user)

A job's options are written once, in its declaration. Its kind (the name pages and
logs show) is the function's name, and the dotted path RQ imports is the function's
module and name, so no string anywhere else names either. `.enqueue()` is
jobs.services.job_enqueue: the row is written in the caller's transaction and RQ hears
of the job when that transaction commits.

What the worker runs is the Job itself: RQ imports the dotted path, which names this
object, and calls it; the call runs the function under its row (jobs.tracking).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from jobs.conf import jobs_settings
from jobs.middleware import note_enqueued
from jobs.services import job_enqueue, job_enqueue_many
from jobs.tracking import tracked

if TYPE_CHECKING:
    from jobs.models import JobRecord

Seconds = int | timedelta  # a duration: seconds, or a timedelta

registry: dict[str, Job] = {}
"""Every declared job by dotted path. Each app's tasks module is imported at start-up
(jobs.apps), so the registry is complete in every process."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Job:
    """A declared job: its function and the options every run of it gets.

    The declared options:

    - `queue`: the RQ queue it goes to.
    - `retries`: how many times a failure is retried, with exponential backoff
      (JOB_RETRY_BASE_SECONDS, doubling).
    - `timeout`: how long an attempt may run before the worker kills it.
    - `keep_result`, `keep_failure`: how long RQ keeps the job after it finished or
      failed (RQ's result_ttl and failure_ttl; BullMQ's removeOnComplete/removeOnFail).
      `keep_result` defaults to 0: the row holds the result, so RQ deletes a finished
      job at once, which saves it several writes per job. `keep_failure` defaults to
      RQ's own (a year). The row is kept for JOB_RECORD_RETENTION_DAYS either way.
    - `on_failure`: a function called with the row, once, when the job has failed for
      good.
    - `cron`: a cron string (UTC); rq-scheduler then enqueues the job on that schedule
      (jobs.schedules). Such a job takes no arguments.
    - `label`: what people read for it on the job pages ("Send welcome email");
      by default the function's name as a sentence.
    - `about`: what it does, in a sentence for the person whose job it is; the job's
      page opens its story with it (jobs.selectors.job_story).

    Durations are seconds or timedeltas. The per-call options, set with `.using()`:
    `delay` (a timedelta), `after` (another job's row: this one waits until that one
    finished) and `job_id` (a deterministic UUID: a second enqueue with it finds the
    first job instead of adding one).
    """

    func: Callable[..., Any]
    queue: str = "default"
    retries: int = 0
    timeout: Seconds | None = None
    keep_result: Seconds = 0
    keep_failure: Seconds | None = None
    on_failure: Callable[[JobRecord], None] | None = None
    cron: str | None = None
    label: str | None = None
    about: str = ""
    delay: timedelta | None = None
    after: JobRecord | None = None
    job_id: uuid.UUID | None = None

    def __post_init__(self):
        if "<locals>" in self.func.__qualname__:
            raise ImproperlyConfigured(
                f"{self.func.__qualname__}: declare jobs at module level, where RQ can import them"
            )
        if self.queue not in jobs_settings.RQ_QUEUE_NAMES:
            raise ImproperlyConfigured(
                f"{self.name}: queue {self.queue!r} is not one of {jobs_settings.RQ_QUEUE_NAMES}"
            )
        object.__setattr__(self, "_run", tracked(self.func))
        if not self.label:
            object.__setattr__(self, "label", label_from_name(self.func.__name__))

    @property
    def name(self) -> str:
        """The job's kind: what its rows, the pages and the logs call it."""
        return self.func.__name__

    @property
    def module_path(self) -> str:
        """The dotted path RQ imports to run it: it names this object."""
        return f"{self.func.__module__}.{self.func.__qualname__}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """What the worker runs: the function, under its row when it has one."""
        return self._run(*args, **kwargs)

    def using(self, **options: Any) -> Job:
        """A copy with some options changed, for one call: `.using(delay=...).enqueue()`."""
        if "func" in options:
            raise TypeError("using() changes options, not the function")
        return dataclasses.replace(self, **options)

    def enqueue(self, *args: Any, owner: Any = None) -> JobRecord:
        """Record a run of this job now; RQ gets it when the transaction commits.

        `args` must be JSON (ids, never model instances); `owner` is the user whose
        pages show the job. Returns the row, whose id is also RQ's job id.
        """
        record = job_enqueue(
            args=args,
            owner=owner,
            depends_on=self.after,
            delay=self.delay,
            job_id=self.job_id,
            **self._declared(),
        )
        note_enqueued(record.pk)
        return record

    def enqueue_many(self, calls: Iterable[tuple[uuid.UUID, Sequence[Any], int | None]]):
        """Record many runs at once and push them in one pipeline on commit (a fan-out).

        `calls` are (job_id, args, owner_id); ids should be deterministic, so that
        running the fan-out again records and pushes each job once. Returns the ids.
        """
        if self.delay or self.after or self.job_id:
            raise TypeError("enqueue_many() takes its ids from `calls` and runs at once")
        ids = job_enqueue_many(jobs=list(calls), **self._declared())
        note_enqueued(*ids)
        return ids

    def _declared(self) -> dict[str, Any]:
        """The declaration, in the engine's terms (jobs.services)."""
        return {
            "func": self.module_path,
            "kind": self.name,
            "queue": self.queue,
            "retries": self.retries,
            "timeout": _seconds(self.timeout),
            "result_ttl": _seconds(self.keep_result),
            "failure_ttl": _seconds(self.keep_failure),
            "on_failure": _dotted_path(self.on_failure),
        }


def job(
    func: Callable[..., Any] | None = None,
    *,
    queue: str = "default",
    retries: int = 0,
    timeout: Seconds | None = None,
    keep_result: Seconds = 0,
    keep_failure: Seconds | None = None,
    on_failure: Callable[[JobRecord], None] | None = None,
    cron: str | None = None,
    label: str | None = None,
    about: str = "",
):
    """Declare a background job: `@job` or `@job(queue=..., retries=..., ...)`.

    See Job for what each option means.
    """

    def declare(func: Callable[..., Any]) -> Job:
        declared = Job(
            func=func,
            queue=queue,
            retries=retries,
            timeout=timeout,
            keep_result=keep_result,
            keep_failure=keep_failure,
            on_failure=on_failure,
            cron=cron,
            label=label,
            about=about,
        )
        registry[declared.module_path] = declared
        return declared

    return declare(func) if func is not None else declare


def label_from_name(name: str) -> str:
    """A job's default label: "send_welcome_email" reads "Send welcome email"."""
    words = name.strip("_").replace("_", " ")
    return words[:1].upper() + words[1:]


def label_for_kind(kind: str | None) -> str:
    """The label of the declared job of that kind (its function's name), for pages that
    know a job only by its kind, such as RQ's registries; else the kind as a sentence."""
    if not kind:
        return ""
    for declared in registry.values():
        if declared.name == kind:
            return declared.label
    return label_from_name(kind)


def _seconds(duration: Seconds | None) -> int | None:
    if isinstance(duration, timedelta):
        return int(duration.total_seconds())
    return duration


def _dotted_path(func: Callable[..., Any] | None) -> str | None:
    return f"{func.__module__}.{func.__qualname__}" if func else None
