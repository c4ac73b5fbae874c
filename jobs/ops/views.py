"""Staff pages: the ops dashboard, the failed set with its actions; /metrics and /healthz.

Every action is confirmed first: a GET shows what is about to happen, and only the
POST from that page (with its CSRF token) does it. One job is requeued or deleted
there and then; a selection or the whole set is a background job (jobs.ops.tasks),
and the POST redirects to the page that follows it.
"""

import functools
from secrets import compare_digest

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_safe
from redis.exceptions import RedisError

from jobs.conf import jobs_settings
from jobs.models import JobRecord
from jobs.ops import selectors, services, tasks
from jobs.ops.metrics import metrics_exposition
from jobs.sweeper import last_report


def staff_required(view):
    """Anonymous visitors are sent to log in; signed-in non-staff get a 403.

    Every ops page reads Redis; when it does not answer, staff get a page that says so
    (503) rather than a server error.
    """

    @functools.wraps(view)
    def check(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        try:
            return view(request, *args, **kwargs)
        except RedisError as exc:
            return render(request, "ops/redis_down.html", {"error": exc}, status=503)

    return login_required(never_cache(check))


def overview_context():
    return {
        "queues": selectors.queue_overview(),
        "workers": selectors.worker_list(),
        "cron": selectors.cron_entries(),
        "failed_count": selectors.failed_count(),
        "sweep": last_report(),
    }


@staff_required
@require_GET
def dashboard(request):
    return render(request, "ops/dashboard.html", overview_context())


@staff_required
@require_GET
def overview(request):
    """The dashboard's panel alone, which the page fetches again every few seconds."""
    return render(request, "ops/_overview.html", overview_context())


@staff_required
@require_GET
def failed_list(request):
    context = {"failed": selectors.failed_list(), "total": selectors.failed_count()}
    return render(request, "ops/failed_list.html", context)


@staff_required
@require_GET
def failed_detail(request, queue, job_id):
    return render(request, "ops/failed_detail.html", {"job": _failed_or_404(queue, job_id)})


@staff_required
@require_http_methods(["GET", "POST"])
def failed_requeue(request, queue, job_id):
    job = _failed_or_404(queue, job_id)
    if request.method != "POST":
        return _confirm(request, "requeue", [job])
    return _act_on_one(request, services.failed_job_requeue, job, "Requeued")


@staff_required
@require_http_methods(["GET", "POST"])
def failed_delete(request, queue, job_id):
    job = _failed_or_404(queue, job_id)
    if request.method != "POST":
        return _confirm(request, "delete", [job])
    return _act_on_one(request, services.failed_job_delete, job, "Deleted")


@staff_required
@require_http_methods(["GET", "POST"])
def failed_requeue_selected(request):
    return _selected(request, "requeue", services.failed_jobs_requeue_start)


@staff_required
@require_http_methods(["GET", "POST"])
def failed_delete_selected(request):
    return _selected(request, "delete", services.failed_jobs_delete_start)


@staff_required
@require_http_methods(["GET", "POST"])
def failed_requeue_all(request):
    if request.method != "POST":
        return _confirm(request, "requeue", None)
    record = services.failed_jobs_requeue_start(requested_by=request.user)
    return redirect("ops:bulk", record.id)


@staff_required
@require_http_methods(["GET", "POST"])
def failed_delete_all(request):
    if request.method != "POST":
        return _confirm(request, "delete", None)
    record = services.failed_jobs_delete_start(requested_by=request.user)
    return redirect("ops:bulk", record.id)


@staff_required
@require_GET
def bulk(request, job_id):
    """How far a bulk requeue or delete has got; when it is done, what it did."""
    return render(request, "ops/bulk.html", _bulk_context(job_id))


@staff_required
@require_GET
def bulk_panel(request, job_id):
    """The bulk page's panel alone, which the page fetches again every few seconds."""
    return render(request, "ops/_bulk.html", _bulk_context(job_id))


@never_cache
@require_GET
def metrics(request):
    """Prometheus text format, for a scraper holding METRICS_TOKEN as a bearer token.

    With no token configured the endpoint does not exist (404), so a forgotten setting
    never exposes it; a missing or wrong token gets a 401.
    """
    token = jobs_settings.METRICS_TOKEN
    if not token:
        raise Http404("Set METRICS_TOKEN to enable /metrics.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not compare_digest(given.strip().encode(), token.encode()):
        response = HttpResponse("A valid bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics_exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)


@require_safe
@never_cache
def healthz(request):
    """For load balancers and uptime checks: 200 when the database and Redis answer."""
    report = selectors.health()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def _failed_or_404(queue, job_id):
    job = selectors.failed_get(queue, job_id)
    if job is None:
        raise Http404("No such job in the failed set.")
    return job


def _selected(request, action, start):
    data = request.POST if request.method == "POST" else request.GET
    refs = selectors.failed_refs(data.getlist("job"))
    if not refs:
        messages.error(request, "Select at least one job first.")
        return redirect("ops:failed")
    if request.method == "POST":
        record = start(refs=refs, requested_by=request.user)
        return redirect("ops:bulk", record.id)
    jobs = [job for job in (selectors.failed_get(queue, job_id) for queue, job_id in refs) if job]
    if not jobs:
        messages.error(request, "None of the selected jobs is in the failed set any more.")
        return redirect("ops:failed")
    return _confirm(request, action, jobs)


def _confirm(request, action, jobs):
    """The confirmation page; `jobs` None means every job in the failed set."""
    context = {"action": action, "jobs": jobs, "total": selectors.failed_count()}
    return render(request, "ops/confirm.html", context)


def _act_on_one(request, perform, job, done_word):
    try:
        perform(queue_name=job.queue, job_id=job.id)
    except services.FailedJobError as exc:
        messages.error(request, f"{job.id}: {exc}")
    else:
        messages.success(request, f"{done_word} 1 job.")
    return redirect("ops:failed")


BULK_ACTIONS = {tasks.requeue_failed_jobs.name: "requeue", tasks.delete_failed_jobs.name: "delete"}


def _bulk_context(job_id):
    record = get_object_or_404(JobRecord, pk=job_id, kind__in=BULK_ACTIONS)
    result = record.result if record.status == JobRecord.Status.FINISHED else None
    not_listed = result["total"] - result["done"] - len(result["errors"]) if result else 0
    return {
        "record": record,
        "action": BULK_ACTIONS[record.kind],
        "result": result,
        "not_listed": not_listed,
    }
