"""What /metrics reports, in Prometheus' text format.

Workers are separate processes, often several, so counters kept in one process's
memory would each tell part of the story. Everything here is read at scrape time from
what all processes share: RQ's registries in Redis, and the JobRecord table.
"""

from django.db.models import Count, F, Sum
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.exposition import choose_encoder
from redis.exceptions import RedisError

from jobs import pausing
from jobs.models import JobRecord
from jobs.ops import selectors

Status = JobRecord.Status
REGISTRIES = ("queued", "started", "scheduled", "deferred", "failed", "finished")


def metrics_exposition(accept=""):
    """The metrics and their content type, in the format the scraper's Accept asks for."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobsCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


class JobsCollector:
    """A prometheus_client collector that reads everything afresh on each scrape."""

    def collect(self):
        yield from self.queues()
        yield from self.records()

    def queues(self):
        up = GaugeMetricFamily("jobs_redis_up", "1 when Redis answered this scrape.")
        depth = GaugeMetricFamily(
            "jobs_queue_jobs",
            "Jobs in each RQ queue, by registry (queued means waiting for a worker).",
            labels=["queue", "status"],
        )
        oldest = GaugeMetricFamily(
            "jobs_queue_oldest_waiting_seconds",
            "How long the oldest job waiting for a worker has waited (0 when none waits).",
            labels=["queue"],
        )
        workers = GaugeMetricFamily("jobs_workers", "Live RQ workers.")
        paused = GaugeMetricFamily(
            "jobs_queue_paused",
            "1 while a queue is paused from /ops/ (workers take none of its jobs), else 0.",
            labels=["queue"],
        )
        try:
            overview = selectors.queue_overview()
            worker_count = len(selectors.worker_list())
            paused_names = pausing.paused()
        except RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for queue in overview:
            for status in REGISTRIES:
                depth.add_metric([queue["name"], status], queue[status])
            oldest.add_metric([queue["name"]], queue["oldest_waiting_seconds"] or 0)
        workers.add_metric([], worker_count)
        for queue in overview:
            paused.add_metric([queue["name"]], int(queue["name"] in paused_names))
        yield from (up, depth, oldest, workers, paused)

    def records(self):
        # Counted from the rows, so a requeued job leaves "failed" and rows pruned for
        # retention leave both: Prometheus reads those drops as counter resets.
        finished = CounterMetricFamily(
            "jobs_finished", "Jobs whose record is finished, by kind.", labels=["kind"]
        )
        failed = CounterMetricFamily(
            "jobs_failed", "Jobs whose record failed after its last attempt.", labels=["kind"]
        )
        counts = {}
        rows = (
            JobRecord.objects.filter(status__in=[Status.FINISHED, Status.FAILED])
            .values("kind", "status")
            .annotate(n=Count("pk"))
        )
        for row in rows:
            counts.setdefault(row["kind"], {Status.FINISHED: 0, Status.FAILED: 0})
            counts[row["kind"]][row["status"]] = row["n"]
        for kind, by_status in sorted(counts.items()):
            finished.add_metric([kind], by_status[Status.FINISHED])
            failed.add_metric([kind], by_status[Status.FAILED])

        duration = SummaryMetricFamily(
            "jobs_duration_seconds",
            "Run time of finished jobs' last attempt (started_at to finished_at), by kind.",
            labels=["kind"],
        )
        durations = (
            JobRecord.objects.filter(
                status=Status.FINISHED, started_at__isnull=False, finished_at__isnull=False
            )
            .values("kind")
            .annotate(n=Count("pk"), total=Sum(F("finished_at") - F("started_at")))
            .order_by("kind")
        )
        for row in durations:
            duration.add_metric([row["kind"]], row["n"], row["total"].total_seconds())
        yield from (finished, failed, duration)
