"""Staff pages: the ops dashboard, the failed set with its actions; /metrics and /healthz.

Every action is confirmed first: a GET shows what is about to happen, and only the
POST from that page (with its CSRF token) does it.
"""

import functools
from secrets import compare_digest

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_safe
from redis.exceptions import RedisError

from jobs.conf import jobs_settings
from jobs.ops import selectors, services
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
    return _act(request, services.failed_jobs_requeue, [(queue, job_id)], "Requeued")


@staff_required
@require_http_methods(["GET", "POST"])
def failed_delete(request, queue, job_id):
    job = _failed_or_404(queue, job_id)
    if request.method != "POST":
        return _confirm(request, "delete", [job])
    return _act(request, services.failed_jobs_delete, [(queue, job_id)], "Deleted")


@staff_required
@require_http_methods(["GET", "POST"])
def failed_requeue_selected(request):
    return _selected(request, "requeue", services.failed_jobs_requeue, "Requeued")


@staff_required
@require_http_methods(["GET", "POST"])
def failed_delete_selected(request):
    return _selected(request, "delete", services.failed_jobs_delete, "Deleted")


@staff_required
@require_http_methods(["GET", "POST"])
def failed_requeue_all(request):
    if request.method != "POST":
        return _confirm(request, "requeue", None)
    return _act(request, services.failed_jobs_requeue, selectors.failed_all_refs(), "Requeued")


@staff_required
@require_http_methods(["GET", "POST"])
def failed_delete_all(request):
    if request.method != "POST":
        return _confirm(request, "delete", None)
    return _act(request, services.failed_jobs_delete, selectors.failed_all_refs(), "Deleted")


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


def _selected(request, action, perform, done_word):
    data = request.POST if request.method == "POST" else request.GET
    refs = selectors.failed_refs(data.getlist("job"))
    if not refs:
        messages.error(request, "Select at least one job first.")
        return redirect("ops:failed")
    if request.method == "POST":
        return _act(request, perform, refs, done_word)
    jobs = [job for job in (selectors.failed_get(queue, job_id) for queue, job_id in refs) if job]
    if not jobs:
        messages.error(request, "None of the selected jobs is in the failed set any more.")
        return redirect("ops:failed")
    return _confirm(request, action, jobs)


def _confirm(request, action, jobs):
    """The confirmation page; `jobs` None means every job in the failed set."""
    context = {"action": action, "jobs": jobs, "total": selectors.failed_count()}
    return render(request, "ops/confirm.html", context)


def _act(request, perform, refs, done_word):
    done, errors = perform(refs=refs)
    if done or not errors:
        messages.success(request, f"{done_word} {done} job{'s' if done != 1 else ''}.")
    for error in errors[:20]:
        messages.error(request, error)
    return redirect("ops:failed")
