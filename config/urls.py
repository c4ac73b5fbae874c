from django.contrib import admin
from django.urls import include, path

from config import views
from jobs.ops.views import healthz, metrics

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("jobs/", include("jobs.urls")),
    path("photos/", include("uploads.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # django-rq's dashboard: each of its views checks is_staff itself (tests/ops/test_access.py).
    path("ops/rq/", include("django_rq.urls")),
    path("ops/", include("jobs.ops.urls")),
    path("dev/mail/", views.dev_mail, name="dev-mail"),
    path("admin/", admin.site.urls),
]

# The site's own error pages (used with DEBUG off); JSON for JSON URLs.
handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
