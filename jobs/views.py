from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from jobs.selectors import job_as_json, job_attempts, job_get_for_user, jobs_for_user


@require_safe
@login_required
def job_list(request):
    records = jobs_for_user(request.user)[:100]
    return render(request, "jobs/list.html", {"records": records})


@require_safe
@login_required
def job_detail(request, job_id):
    record = job_get_for_user(request.user, job_id)
    context = {"record": record, "job": job_as_json(record), "attempts": job_attempts(record)}
    return render(request, "jobs/detail.html", context)


@require_safe
@never_cache
@login_required
def job_status(request, job_id):
    record = job_get_for_user(request.user, job_id)
    return JsonResponse(job_as_json(record))
