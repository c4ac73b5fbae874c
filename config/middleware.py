"""Site-wide middleware."""

from django.http import HttpResponseNotAllowed
from rq.exceptions import NoSuchJobError

from config.views import method_not_allowed, page_not_found


class MethodNotAllowedPage:
    """Give Django's bare 405 the site's page, or JSON for a JSON client.

    Views keep Django's own decorators (require_POST, require_safe, ...) and class-based
    views their http_method_names; each answers a wrong method with an empty
    HttpResponseNotAllowed, which this replaces, keeping its Allow header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            permitted = [method.strip() for method in response["Allow"].split(",")]
            return method_not_allowed(request, permitted)
        return response


class DjangoRQNotFound:
    """404, not 500, for what django-rq cannot find.

    Its views answer an unknown queue index, job or worker with IndexError,
    NoSuchJobError or ValueError. Its admin entry offers change, delete and history pages
    for a model with no table behind it: those are refused before they query, since a
    failed query would also break the transaction the 404 page renders in.
    """

    MISSING = (IndexError, KeyError, ValueError, NoSuchJobError)
    NO_TABLE = {
        "django_rq_dashboard_change",
        "django_rq_dashboard_delete",
        "django_rq_dashboard_history",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.resolver_match.url_name in self.NO_TABLE:
            return page_not_found(request, None)
        return None

    def process_exception(self, request, exception):
        match = request.resolver_match
        if match is None or not isinstance(exception, self.MISSING):
            return None
        # Its views, at /ops/rq/ and again under the admin as "django_rq_<view>".
        if match.app_name == "django_rq" or (match.url_name or "").startswith("django_rq_"):
            return page_not_found(request, exception)
        return None
