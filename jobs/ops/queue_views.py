"""The Workers tab, and pausing and resuming one queue.

Pause and resume are confirmed first, like every ops action: the GET says what will
happen to the jobs waiting in the queue and names the workers that serve it, and only
the POST from that page (with its CSRF token) does it. jobs.pausing says what a pause
is: workers stop taking the queue's jobs, which wait in it; running jobs finish.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from jobs.conf import jobs_settings
from jobs.ops import queue_controls
from jobs.ops.access import ops_action, ops_view


@ops_view
@require_GET
def workers(request):
    """The live workers; with ?panel=1 the table alone, for the page's refresh."""
    partial = request.GET.get("panel") == "1"
    context = {"tab": "workers", "workers": queue_controls.worker_rows()}
    return render(request, f"ops/{'_' if partial else ''}workers.html", context)


@ops_action
@require_http_methods(["GET", "POST"])
def queue_pause(request, name):
    _known_or_404(name)
    if request.method != "POST":
        return _confirm(request, name, "pause")
    before = queue_controls.queue_pause(name=name, actor=request.user)
    messages.success(
        request,
        f"Paused {name}: its {before['waiting']} waiting job{_s(before['waiting'])} stay in "
        "the queue until it is resumed.",
    )
    return redirect("ops:dashboard")


@ops_action
@require_http_methods(["GET", "POST"])
def queue_resume(request, name):
    _known_or_404(name)
    if request.method != "POST":
        return _confirm(request, name, "resume")
    before = queue_controls.queue_resume(name=name, actor=request.user)
    messages.success(
        request,
        f"Resumed {name}: workers take its {before['waiting']} waiting "
        f"job{_s(before['waiting'])} again.",
    )
    return redirect("ops:dashboard")


def _known_or_404(name):
    if name not in jobs_settings.RQ_QUEUE_NAMES:
        raise Http404("No such queue.")


def _confirm(request, name, verb):
    context = {"tab": "overview", "verb": verb, "queue": queue_controls.queue_state(name)}
    return render(request, "ops/queue_confirm.html", context)


def _s(count):
    return "" if count == 1 else "s"
