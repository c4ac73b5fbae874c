"""The console's Busy, Scheduled and Cron tabs, and their "run now" actions.

Busy and Scheduled refresh themselves every few seconds (static/js/ops.js fetches the
page again with ?panel=1, which renders the table alone). "Run now" is confirmed first,
like every ops action: the GET shows what will happen, and only the POST from that
page does it.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from jobs.ops import tab_services, tabs
from jobs.ops.access import ops_action, ops_view


@ops_view
@require_GET
def busy(request):
    jobs, more = tabs.busy_jobs()
    return _page(request, "busy", {"jobs": jobs, "more": more})


@ops_view
@require_GET
def scheduled(request):
    jobs, more = tabs.scheduled_jobs()
    return _page(request, "scheduled", {"jobs": jobs, "more": more})


@ops_action
@require_http_methods(["GET", "POST"])
def scheduled_run_now(request, queue, job_id):
    if request.method == "POST":
        try:
            job = tab_services.scheduled_job_run_now(
                queue_name=queue, job_id=job_id, actor=request.user
            )
        except tab_services.RunNowError as exc:
            messages.error(request, f"{job_id}: {exc}")
        else:
            messages.success(request, f"{job.kind} {job_id} is queued on {queue} now.")
        return redirect("ops:scheduled")
    job = tabs.scheduled_get(queue, job_id)
    if job is None:
        messages.error(request, f"{job_id} is no longer scheduled: it may have run already.")
        return redirect("ops:scheduled")
    return render(request, "ops/run_now.html", {"scheduled": job})


@ops_view
@require_GET
def cron(request):
    return render(request, "ops/cron.html", {"entries": tabs.cron_list()})


@ops_action
@require_http_methods(["GET", "POST"])
def cron_run_now(request, entry_id):
    entry = tabs.cron_get(entry_id)
    if entry is None or entry.declared is None:
        raise Http404("No cron entry with that id runs a declared job.")
    if request.method != "POST":
        return render(request, "ops/run_now.html", {"entry": entry})
    record = tab_services.cron_entry_run_now(entry=entry, actor=request.user)
    messages.success(request, f"{record.kind} is enqueued now; {entry.id} keeps its schedule.")
    return redirect("ops:job", record.id)


def _page(request, name, context):
    """The whole page, or with ?panel=1 its table alone, for the page's refresh."""
    partial = request.GET.get("panel") == "1"
    return render(request, f"ops/{'_' if partial else ''}{name}.html", context)
