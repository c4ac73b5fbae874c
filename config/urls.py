from django.contrib import admin
from django.urls import include, path

from config import views
from jobs.views import healthz

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("jobs/", include("jobs.urls")),
    path("photos/", include("uploads.urls")),
    path("healthz", healthz, name="healthz"),
    path("dev/mail/", views.dev_mail, name="dev-mail"),
    path("admin/", admin.site.urls),
]
