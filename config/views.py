"""Pages that belong to the site rather than to one app."""

from email import message_from_string

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@require_safe
def home(request):
    show_dev_mail = settings.DEBUG and request.user.is_staff  # what dev_mail allows
    return render(request, "home.html", {"show_dev_mail": show_dev_mail})


def dev_mail(request):
    """The messages Django's file email backend wrote: development only, staff only.

    With DEBUG off the page does not exist (404, before any login), whoever asks. With
    DEBUG on it shows every message sent to anyone, so anonymous visitors are sent to
    log in and signed-in people who are not staff get a 403.
    """
    if not (settings.DEBUG and settings.EMAIL_BACKEND.endswith("filebased.EmailBackend")):
        raise Http404("The mail page exists only in development with the file email backend.")
    return _staff_mail(request)


@login_required
@never_cache
def _staff_mail(request):
    if not request.user.is_staff:
        raise PermissionDenied
    mail_dir = settings.MAIL_DIR
    files = sorted(mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    # Not "messages": that name is Django's messages framework in every template.
    emails = [email for path in files[:50] for email in _emails_in(path)]
    return render(request, "dev/mail.html", {"emails": emails[:50], "mail_dir": mail_dir})


# The file backend writes each message it sends, then a line of 79 dashes, to one file
# per connection: a file can hold several.
_MESSAGE_END = "\n" + "-" * 79 + "\n"


def _emails_in(path):
    """The emails in one of the file backend's files, newest first, with their headers."""
    text = path.read_text(errors="replace")
    emails = []
    for raw in text.split(_MESSAGE_END):
        if not raw.strip():
            continue
        message = message_from_string(raw)
        body = message.get_payload(decode=True) if not message.is_multipart() else None
        emails.append(
            {
                "subject": message.get("Subject", "(no subject)"),
                "to": message.get("To", ""),
                "date": message.get("Date", ""),
                "body": body.decode(errors="replace") if body else message.get_payload(),
                "file": path.name,
            }
        )
    return emails[::-1]


# Error pages. Django calls these (config/urls.py, CSRF_FAILURE_VIEW) with DEBUG off;
# with DEBUG on it shows its own technical pages instead. People get the site's layout
# and a sentence; a JSON URL, or a client that asks for JSON, gets {"error": sentence}.
ERROR_SENTENCES = {
    400: "The request could not be understood.",
    403: "You do not have access to this.",
    404: "There is nothing here.",
    405: "This address does not take that method.",
    413: "The request is too large.",
    500: "Something went wrong on our side. It has been logged; please try again later.",
}
CSRF_SENTENCE = "The form could not be checked: reload its page and send it again."


def wants_json(request):
    accept = request.headers.get("Accept", "")
    return request.path.endswith(".json") or "application/json" in accept


def error_page(request, status, *, template=None, context=None, message=None):
    message = message or ERROR_SENTENCES[status]
    if wants_json(request):
        return JsonResponse({"error": message}, status=status)
    context = {"message": message, **(context or {})}
    return render(request, template or f"{status}.html", context, status=status)


def bad_request(request, exception):
    # Django reports a form body over DATA_UPLOAD_MAX_MEMORY_SIZE as a bad request.
    if isinstance(exception, RequestDataTooBig):
        return error_page(request, 413)
    return error_page(request, 400)


def permission_denied(request, exception):
    return error_page(request, 403)


def page_not_found(request, exception):
    return error_page(request, 404)


def server_error(request):
    """Rendered without the request's context: looking up the signed-in user needs the
    database, which may be what failed."""
    if wants_json(request):
        return JsonResponse({"error": ERROR_SENTENCES[500]}, status=500)
    return HttpResponse(render_to_string("500.html", {"message": ERROR_SENTENCES[500]}), status=500)


def csrf_failure(request, reason=""):
    """A form without its CSRF token, or with a stale one (CsrfViewMiddleware logs why)."""
    return error_page(request, 403, template="403_csrf.html", message=CSRF_SENTENCE)


def method_not_allowed(request, permitted):
    response = error_page(request, 405, context={"permitted": permitted})
    response["Allow"] = ", ".join(permitted)
    return response
