import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from jobs.demo import controls, tasks
from jobs.demo.live import live_snapshot
from jobs.demo.services import demo_step_run


@login_required
@require_GET
def difference(request):
    return render(
        request,
        "demo/difference.html",
        {
            "step_seconds": settings.DEMO_STEP_SECONDS,
            "controls_on": controls.enabled(),
        },
    )


@login_required
@require_POST
def difference_inline(request):
    started = time.perf_counter()
    demo_step_run(to=request.user.email or "demo@example.com")
    return JsonResponse({"server_ms": round((time.perf_counter() - started) * 1000, 1)})


@login_required
@require_POST
def difference_queued(request):
    started = time.perf_counter()
    record = tasks.run_demo_step.enqueue(
        request.user.email or "demo@example.com", owner=request.user
    )
    return JsonResponse(
        {
            "server_ms": round((time.perf_counter() - started) * 1000, 1),
            "job_id": str(record.id),
            "job_url": reverse("jobs:detail", args=[record.id]),
        }
    )


@login_required
@require_safe
def live(request):
    return render(
        request,
        "demo/live.html",
        {"snapshot": live_snapshot(request.user), "controls_on": controls.enabled()},
    )


@require_safe
@never_cache
@login_required
def live_status(request):
    return JsonResponse(live_snapshot(request.user))
