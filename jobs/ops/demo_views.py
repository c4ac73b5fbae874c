"""The demo controls' pages (/demo/controls/): staff with `jobs.act_ops` switch the engine's
demo hooks (jobs.demo.controls) on, where DEMO_CONTROLS allows it; each switch is audited."""

import functools

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from jobs.demo import controls
from jobs.ops.access import ops_action
from jobs.ops.audit import record_action


def _controls_on(view):
    """The controls exist only where DEMO_CONTROLS is on; elsewhere their URLs are 404."""

    @functools.wraps(view)
    def check(request, *args, **kwargs):
        if not controls.enabled():
            raise Http404("Demo controls are off (DEMO_CONTROLS).")
        return view(request, *args, **kwargs)

    return check


@_controls_on
@ops_action
@require_GET
def controls_page(request):
    return render(
        request,
        "demo/controls.html",
        {"state": controls.demo_state(), "slow_max": controls.SLOW_SECONDS_MAX},
    )


@_controls_on
@ops_action
@require_POST
def controls_slow(request):
    try:
        seconds = int(request.POST.get("seconds", ""))
        controls.jobs_slow_down(seconds=seconds)
    except ValueError:
        messages.error(
            request, f"Seconds must be a whole number from 0 to {controls.SLOW_SECONDS_MAX}."
        )
        return redirect("demo:controls")
    record_action(actor=request.user, verb="demo-slow", target=f"every job by {seconds} s")
    if seconds:
        messages.success(request, f"Every job now waits {seconds} s before its work.")
    else:
        messages.success(request, "Jobs run at their own speed again.")
    return redirect("demo:controls")


@_controls_on
@ops_action
@require_POST
def controls_fail(request, service):
    if service not in controls.SERVICES:
        raise Http404("No such service.")
    controls.service_fail(service=service)
    record_action(
        actor=request.user, verb="demo-fail", target=f"{service} for {controls.FAILURE_SECONDS} s"
    )
    messages.success(request, f"{service.upper()} fails for the next {controls.FAILURE_SECONDS} s.")
    return redirect("demo:controls")


@_controls_on
@ops_action
@require_POST
def controls_kill_worker(request):
    worker = controls.worker_kill()
    if worker is None:
        messages.error(request, "No live worker on this host to kill.")
    else:
        record_action(
            actor=request.user, verb="demo-kill", target=f"worker {worker.name} (pid {worker.pid})"
        )
        messages.success(request, f"Killed worker {worker.name} (pid {worker.pid}) with SIGKILL.")
    return redirect("demo:controls")


urlpatterns = [
    path("controls/", controls_page, name="controls"),
    path("controls/slow/", controls_slow, name="controls-slow"),
    path("controls/fail/<str:service>/", controls_fail, name="controls-fail"),
    path("controls/kill-worker/", controls_kill_worker, name="controls-kill-worker"),
]
