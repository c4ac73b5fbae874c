"""Staff pages: the ops dashboard, the failed set with its actions; /metrics and /healthz.

Every action is confirmed first: a GET shows what is about to happen, and only the
POST from that page (with its CSRF token) does it. One job is requeued or deleted
there and then; a selection or the whole set is a background job (jobs.ops.tasks),
and the POST redirects to the page that follows it.
"""

from secrets import compare_digest
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from jobs.conf import jobs_settings
from jobs.models import JobRecord
from jobs.ops import audit, queue_controls, selectors, services, tasks
from jobs.ops.access import ops_action, ops_view
from jobs.ops.chart_views import chart_context
from jobs.ops.forms import JobSearchForm
from jobs.ops.metrics import metrics_exposition
from jobs.sweeper import last_report


def overview_context():
    return {
        "tab": "overview",
        "actions": audit.recent(10),
        **queue_controls.queue_controls_context(),
        "queues": selectors.queue_overview(),
        "workers": selectors.worker_list(),
        "cron": selectors.cron_entries(),
        "failed_count": selectors.failed_count(),
        "sweep": last_report(),
    }


@ops_view
@require_GET
def dashboard(request):
    context = {**overview_context(), **chart_context(request)}
    return render(request, "ops/dashboard.html", context)


@ops_view
@require_GET
def overview(request):
    """The dashboard's panel alone, which the page fetches again every few seconds."""
    return render(request, "ops/_overview.html", overview_context())


@ops_view
@require_GET
def job_search(request):
    """/ops/jobs/: every job record, filtered by the query parameters of JobSearchForm."""
    form = JobSearchForm(request.GET)
    page = None
    if form.is_valid():
        paginator = Paginator(selectors.job_search(form), selectors.SEARCH_PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
    filters = form.filters()
    context = {
        "tab": "jobs",
        "form": form,
        "page": page,
        "filters": filters,
        "query": urlencode(filters),
        "kinds": selectors.job_kinds(),
        "bulk_actions": services.BULK_VERBS,
    }
    return render(request, "ops/jobs.html", context)


@ops_view
@require_GET
def job_timeline(request, job_id):
    """/ops/jobs/<uuid>/: one job, attempt by attempt, with tracebacks and staff actions."""
    record = get_object_or_404(JobRecord.objects.select_related("owner"), pk=job_id)
    context = {
        "tab": "jobs",
        "record": record,
        **selectors.job_timeline(record),
        "failed_copy": selectors.failed_get(record.queue, str(record.id)),
    }
    return render(request, "ops/job.html", context)


@ops_action
@require_http_methods(["GET", "POST"])
def job_act(request, job_id, action):
    """Requeue (failed or canceled) or cancel (not started) one job, from its timeline."""
    record = get_object_or_404(JobRecord, pk=job_id)
    if request.method != "POST":
        context = {"tab": "jobs", "record": record, "action": action}
        return render(request, "ops/job_confirm.html", context)
    with transaction.atomic():
        done = services.job_act(record, action)
        if done:
            audit.record_action(
                actor=request.user, verb=action, target=f"job {record.id}", job_ids=[record.id]
            )
    if done:
        messages.success(request, f"{action.capitalize()}d the job.")
    else:
        record.refresh_from_db()
        status = record.get_status_display().lower()
        messages.error(request, f"It is {status}: there is nothing to {action}.")
    return redirect("ops:job", record.id)


@ops_action
@require_http_methods(["GET", "POST"])
def jobs_bulk(request, action):
    """Requeue, cancel or delete every job the search's filter matches, as a background
    job. The GET states how many jobs that is; the POST (carrying the same filter)
    starts it, and only acts on jobs that match when it runs."""
    if action not in services.BULK_VERBS:
        raise Http404("No such bulk action.")
    data = request.POST if request.method == "POST" else request.GET
    form = JobSearchForm(data)
    if not form.is_valid():
        messages.error(request, "Correct the filter first.")
        return redirect("ops:jobs")
    filters = form.filters()
    count = services.bulk_matching(form, action).count()
    if request.method != "POST":
        context = {"tab": "jobs", "action": action, "filters": filters, "count": count}
        return render(request, "ops/jobs_bulk_confirm.html", context)
    with transaction.atomic():
        record = services.jobs_bulk_start(action=action, filters=filters, requested_by=request.user)
        audit.record_action(
            actor=request.user,
            verb=f"bulk {action}",
            target=f"jobs matching {filters or 'everything'}",
            job_count=count,  # as it matched when staff confirmed
            details={"filters": filters, "bulk_job": str(record.id)},
        )
    return redirect("ops:bulk", record.id)


@ops_view
@require_GET
def audit_trail(request):
    """Every action taken in the console, newest first."""
    paginator = Paginator(audit.OpsAction.objects.select_related("actor"), 100)
    context = {"tab": "audit", "page": paginator.get_page(request.GET.get("page"))}
    return render(request, "ops/audit.html", context)


@ops_view
@require_GET
def failed_list(request):
    context = {
        "tab": "failed",
        "failed": selectors.failed_list(),
        "total": selectors.failed_count(),
    }
    return render(request, "ops/failed_list.html", context)


@ops_view
@require_GET
def failed_detail(request, queue, job_id):
    return render(request, "ops/failed_detail.html", {"job": _failed_or_404(queue, job_id)})


@ops_action
@require_http_methods(["GET", "POST"])
def failed_requeue(request, queue, job_id):
    job = _failed_or_404(queue, job_id)
    if request.method != "POST":
        return _confirm(request, "requeue", [job])
    return _act_on_one(request, services.failed_job_requeue, job, "requeue")


@ops_action
@require_http_methods(["GET", "POST"])
def failed_delete(request, queue, job_id):
    job = _failed_or_404(queue, job_id)
    if request.method != "POST":
        return _confirm(request, "delete", [job])
    return _act_on_one(request, services.failed_job_delete, job, "delete")


@ops_action
@require_http_methods(["GET", "POST"])
def failed_requeue_selected(request):
    return _selected(request, "requeue", services.failed_jobs_requeue_start)


@ops_action
@require_http_methods(["GET", "POST"])
def failed_delete_selected(request):
    return _selected(request, "delete", services.failed_jobs_delete_start)


@ops_action
@require_http_methods(["GET", "POST"])
def failed_requeue_all(request):
    if request.method != "POST":
        return _confirm(request, "requeue", None)
    with transaction.atomic():
        record = services.failed_jobs_requeue_start(requested_by=request.user)
        count = selectors.failed_count()
        _audit_failed(request, "requeue all", "every failed job", job_count=count, bulk=record)
    return redirect("ops:bulk", record.id)


@ops_action
@require_http_methods(["GET", "POST"])
def failed_delete_all(request):
    if request.method != "POST":
        return _confirm(request, "delete", None)
    with transaction.atomic():
        record = services.failed_jobs_delete_start(requested_by=request.user)
        count = selectors.failed_count()
        _audit_failed(request, "delete all", "every failed job", job_count=count, bulk=record)
    return redirect("ops:bulk", record.id)


@ops_view
@require_GET
def bulk(request, job_id):
    """How far a bulk requeue or delete has got; when it is done, what it did."""
    return render(request, "ops/bulk.html", _bulk_context(job_id))


@ops_view
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
        with transaction.atomic():
            record = start(refs=refs, requested_by=request.user)
            ids = [job_id for _, job_id in refs]
            _audit_failed(request, action, f"{len(ids)} failed jobs", ids, bulk=record)
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


def _act_on_one(request, perform, job, verb):
    try:
        with transaction.atomic():
            perform(queue_name=job.queue, job_id=job.id)
            _audit_failed(request, verb, f"failed job {job.id}", [job.id])
    except services.FailedJobError as exc:
        messages.error(request, f"{job.id}: {exc}")
    else:
        messages.success(request, f"{verb.capitalize()}d 1 job.")
    return redirect("ops:failed")


def _audit_failed(request, verb, target, job_ids=(), job_count=None, bulk=None):
    details = {"bulk_job": str(bulk.id)} if bulk else {}
    audit.record_action(
        actor=request.user,
        verb=verb,
        target=target,
        job_ids=job_ids,
        job_count=job_count,
        details=details,
    )


BULK_ACTIONS = {
    tasks.requeue_failed_jobs.name: "requeue",
    tasks.delete_failed_jobs.name: "delete",
    tasks.jobs_bulk_action.name: None,  # its first argument says which
}


def _bulk_context(job_id):
    record = get_object_or_404(JobRecord, pk=job_id, kind__in=BULK_ACTIONS)
    result = record.result if record.status == JobRecord.Status.FINISHED else None
    not_listed = result["total"] - result["done"] - len(result["errors"]) if result else 0
    over_filter = record.kind == tasks.jobs_bulk_action.name
    return {
        "record": record,
        "action": record.args[0] if over_filter else BULK_ACTIONS[record.kind],
        "subject": "matching jobs" if over_filter else "failed jobs",
        "filters": record.args[1] if over_filter else None,
        "result": result,
        "not_listed": not_listed,
    }
