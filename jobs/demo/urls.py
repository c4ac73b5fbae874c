from django.urls import path

from jobs.demo import views

app_name = "demo"

urlpatterns = [
    path("difference/", views.difference, name="difference"),
    path("difference/inline/", views.difference_inline, name="difference-inline"),
    path("difference/queued/", views.difference_queued, name="difference-queued"),
    path("live/", views.live, name="live"),
    path("live.json", views.live_status, name="live-status"),
]
