import functools

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, include, path
from django_rq.urls import urlpatterns as django_rq_urlpatterns

from accounts.urls import password_reset_urlpatterns
from config import views
from jobs.demo.urls import urlpatterns as demo_urlpatterns
from jobs.ops import demo_views
from jobs.ops.access import can_view, ops_action
from jobs.ops.views import healthz, metrics


def acting_only(patterns):
    """django-rq's dashboard can empty queues and requeue jobs, so it needs both ops
    permissions (jobs.ops.access) on top of its own staff check. Its views that take an
    API token (the stats JSON) answer a scraper with the token, or a person who may look."""
    return [
        URLPattern(
            pattern.pattern,
            (token_or_viewer if "token" in pattern.pattern.regex.groupindex else ops_action)(
                pattern.callback
            ),
            pattern.default_args,
            pattern.name,
        )
        for pattern in patterns
    ]


def token_or_viewer(view):
    @functools.wraps(view)
    def check(request, *args, **kwargs):
        if request.user.is_authenticated and not can_view(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)  # which checks the token of anyone else

    return check


urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include(password_reset_urlpatterns)),  # Django's names, no namespace
    path("jobs/", include("jobs.urls")),
    path("photos/", include("uploads.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # django-rq's dashboard: each of its views checks is_staff itself, and acting_only
    # adds ours (tests/ops/test_access.py).
    path("ops/rq/", include((acting_only(django_rq_urlpatterns), "django_rq"))),
    path("ops/", include("jobs.ops.urls")),
    # The demo: its pages for everyone signed in, and the controls, which are staff's.
    path("demo/", include((demo_urlpatterns + demo_views.urlpatterns, "demo"))),
    path("dev/mail/", views.dev_mail, name="dev-mail"),
    path("admin/", admin.site.urls),
]

# The site's own error pages (used with DEBUG off); JSON for JSON URLs.
handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
