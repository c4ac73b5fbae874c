from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("list.json", views.job_list_status, name="list_status"),
    path("<uuid:job_id>/", views.job_detail, name="detail"),
    path("<uuid:job_id>.json", views.job_status, name="status"),
]
