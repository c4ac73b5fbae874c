from django.urls import path

from jobs.ops import views

app_name = "ops"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("overview/", views.overview, name="overview"),
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
