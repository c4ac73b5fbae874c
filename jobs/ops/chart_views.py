"""The dashboard's live charts: attempts per minute, queue depth, wait and run times.

The figures are jobs.stats' per-minute buckets in Redis; jobs.ops.charts draws them.
GET /ops/charts/ answers the panel alone, which the dashboard fetches again every few
seconds; `?window=hour|day&queue=<name>&kind=<kind>` choose what it shows, and a value
it does not know shows everything rather than an error.
"""

from urllib.parse import urlencode

from django.shortcuts import render
from django.views.decorators.http import require_GET

from jobs import stats
from jobs.conf import jobs_settings
from jobs.ops import charts as draw
from jobs.ops.access import ops_view

WINDOW_LABELS = {"hour": "the last hour, per minute", "day": "the last day, per 15 minutes"}


@ops_view
@require_GET
def charts(request):
    return render(request, "ops/_charts.html", chart_context(request))


def chart_context(request):
    """{"charts": ...}, what templates/ops/_charts.html and the dashboard's filters use.

    Samples the queues first, so the depth chart's last point is as of this read.
    """
    window = request.GET.get("window")
    window = window if window in stats.WINDOWS else "hour"
    stats.sample_queues()
    read = stats.series(window)
    queues = sorted(set(jobs_settings.RQ_QUEUE_NAMES) | set(read.queues))
    queue = request.GET.get("queue") if request.GET.get("queue") in queues else ""
    kind = request.GET.get("kind") if request.GET.get("kind") in read.kinds else ""
    chosen = {"window": window, "queue": queue, "kind": kind}
    return {
        "charts": {
            **chosen,
            "query": urlencode({key: value for key, value in chosen.items() if value}),
            "windows": WINDOW_LABELS,
            "window_label": WINDOW_LABELS[window],
            "queues": queues,
            "kinds": read.kinds,
            **_figures(read, queue=queue or None, kind=kind or None),
        }
    }


def _figures(read, *, queue, kind):
    done = read.counts("done", queue=queue, kind=kind)
    failed = read.counts("failed", queue=queue, kind=kind)
    finished_total, failed_total = sum(done), sum(failed)
    per_point = "minute" if read.minutes_per_point == 1 else f"{read.minutes_per_point} minutes"
    shown_queues = [queue] if queue else sorted(read.depth)
    rows = [
        {
            "queue": q,
            "kind": k,
            "finished": sum(read.done.get((q, k), [])),
            "failed": sum(read.failed.get((q, k), [])),
        }
        for q, k in sorted({*read.done, *read.failed})
        if queue in (None, q) and kind in (None, k)
    ]
    # Wait and run times are kept per kind: with a queue chosen, those of its kinds.
    kinds = {row["kind"] for row in rows}
    if queue is None:
        kinds |= set(read.wait) | set(read.run)
    kinds = sorted(kinds if kind is None else {kind})
    latency = [{"kind": k, **read.latency(k)} for k in kinds]
    return {
        "finished_total": finished_total,
        "failed_total": failed_total,
        "attempts": draw.line_chart(
            title=f"Attempts per {per_point}",
            summary=f"{finished_total} finished and {failed_total} failed",
            starts=read.starts,
            lines=[
                draw.Line("finished", done, draw.PALETTE[0]),
                draw.Line("failed", failed, draw.PALETTE[1]),
            ],
            data={"total": finished_total, "failed": failed_total, "points": len(read.starts)},
        ),
        "depth": draw.line_chart(
            title="Jobs waiting in each queue",
            summary=_last_samples(read.depth, shown_queues, ""),
            starts=read.starts,
            lines=draw.lines_for({q: read.depth[q] for q in shown_queues if q in read.depth}),
        ),
        "oldest": draw.line_chart(
            title="Oldest waiting job, seconds",
            summary=_last_samples(read.oldest, shown_queues, " s"),
            starts=read.starts,
            lines=draw.lines_for({q: read.oldest[q] for q in shown_queues if q in read.oldest}),
            unit=" s",
        ),
        "wait": draw.latency_chart(
            title="Wait, queued to started",
            summary=_percentile_summary(latency, "wait"),
            rows=[(row["kind"], row["wait"]) for row in latency],
        ),
        "run": draw.latency_chart(
            title="Run time, started to ended",
            summary=_percentile_summary(latency, "run"),
            rows=[(row["kind"], row["run"]) for row in latency],
        ),
        "rows": rows,
        "latency": [
            {
                "kind": row["kind"],
                "count": row["run"].count,
                **{
                    f"{what}_{p}": draw.at_most(getattr(row[what], p))
                    for what in ("wait", "run")
                    for p in ("p50", "p95")
                },
            }
            for row in latency
        ],
    }


def _last_samples(samples, queues, unit):
    found = []
    for name in queues:
        values = [value for value in samples.get(name, []) if value is not None]
        if values:
            found.append(f"{name} {draw.number(values[-1])}{unit} at the latest sample")
    return ", ".join(found) or "no sample yet"


def _percentile_summary(latency, what):
    measured = [row for row in latency if row[what].count]
    return (
        "; ".join(
            f"{row['kind']} p50 {draw.at_most(row[what].p50)}, p95 {draw.at_most(row[what].p95)}"
            for row in measured
        )
        or "no attempt measured"
    )
