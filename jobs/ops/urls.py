from django.urls import path

from jobs.ops import chart_views, queue_views, tab_views, views

app_name = "ops"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("overview/", views.overview, name="overview"),
    path("charts/", chart_views.charts, name="charts"),
    path("jobs/", views.job_search, name="jobs"),
    path("jobs/bulk/<slug:action>/", views.jobs_bulk, name="jobs-bulk"),
    path("jobs/<uuid:job_id>/", views.job_timeline, name="job"),
    path("jobs/<uuid:job_id>/requeue/", views.job_act, {"action": "requeue"}, name="job-requeue"),
    path("jobs/<uuid:job_id>/cancel/", views.job_act, {"action": "cancel"}, name="job-cancel"),
    path("audit/", views.audit_trail, name="audit"),
    path("busy/", tab_views.busy, name="busy"),
    path("scheduled/", tab_views.scheduled, name="scheduled"),
    path(
        "scheduled/<str:queue>/<slug:job_id>/run-now/",
        tab_views.scheduled_run_now,
        name="scheduled-run-now",
    ),
    path("cron/", tab_views.cron, name="cron"),
    path("cron/<str:entry_id>/run-now/", tab_views.cron_run_now, name="cron-run-now"),
    path("workers/", queue_views.workers, name="workers"),
    path("queues/<str:name>/pause/", queue_views.queue_pause, name="queue-pause"),
    path("queues/<str:name>/resume/", queue_views.queue_resume, name="queue-resume"),
    path("failed/", views.failed_list, name="failed"),
    path("failed/requeue/", views.failed_requeue_selected, name="failed-requeue-selected"),
    path("failed/delete/", views.failed_delete_selected, name="failed-delete-selected"),
    path("failed/requeue-all/", views.failed_requeue_all, name="failed-requeue-all"),
    path("failed/delete-all/", views.failed_delete_all, name="failed-delete-all"),
    path("bulk/<uuid:job_id>/", views.bulk, name="bulk"),
    path("bulk/<uuid:job_id>/panel/", views.bulk_panel, name="bulk-panel"),
    path("failed/<str:queue>/<slug:job_id>/", views.failed_detail, name="failed-detail"),
    path("failed/<str:queue>/<slug:job_id>/requeue/", views.failed_requeue, name="failed-requeue"),
    path("failed/<str:queue>/<slug:job_id>/delete/", views.failed_delete, name="failed-delete"),
]
