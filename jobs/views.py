from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from jobs.selectors import (
    job_as_json,
    job_attempts,
    job_get_for_user,
    job_how_it_works,
    job_label,
    job_story,
    jobs_for_user,
)

MY_JOBS = 100


@require_safe
@login_required
def job_list(request):
    records = list(jobs_for_user(request.user)[:MY_JOBS])
    for record in records:
        record.label = job_label(record)
    return render(request, "jobs/list.html", {"records": records})


@require_safe
@never_cache
@login_required
def job_list_status(request):
    """My jobs as JSON, newest first, for the list page's polling; each with its page's
    `url`, for a row the page adds."""
    records = jobs_for_user(request.user)[:MY_JOBS]
    jobs = [
        {**job_as_json(record), "url": reverse("jobs:detail", args=[record.id])}
        for record in records
    ]
    return JsonResponse({"jobs": jobs})


@require_safe
@login_required
def job_detail(request, job_id):
    record = job_get_for_user(request.user, job_id)
    attempts = job_attempts(record)
    story = job_story(record, attempts)
    context = {
        "record": record,
        "job": job_as_json(record, story),
        "story": story,
        "attempts": attempts,
        "how": job_how_it_works(record),
    }
    return render(request, "jobs/detail.html", context)


@require_safe
@never_cache
@login_required
def job_status(request, job_id):
    record = job_get_for_user(request.user, job_id)
    return JsonResponse(job_as_json(record, job_story(record)))
