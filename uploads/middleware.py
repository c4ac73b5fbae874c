"""Refuse an oversized upload from its Content-Length, before anything reads its body."""

from django.conf import settings
from django.urls import Resolver404, resolve

from uploads.views import content_length, request_too_large

DISCARD_CHUNK = 64 * 1024
# Past this many times the limit, the rest of the body is not worth reading to let the
# browser show the page: the connection just closes after the 413.
DISCARD_FACTOR = 10


class UploadLimitMiddleware:
    """Answer a POST to the upload page over UPLOAD_MAX_REQUEST_BYTES with a 413 page
    or 413 JSON, without parsing its body.

    It must answer before anything touches request.POST. CsrfViewMiddleware reads it in
    process_view(), which Django calls only once every middleware's __call__ has passed
    the request on, so this may stand anywhere in MIDDLEWARE; it stands after
    AuthenticationMiddleware, so that the page knows who is logged in. Answering before
    the CSRF check is safe: a 413 changes nothing.

    Anonymous requests go on to the view's login redirect, and their files are skipped
    by uploads.handlers.RequestSizeLimitHandler; so is every file of an oversized
    request to any other URL.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST":
            length = content_length(request)
            limit = settings.UPLOAD_MAX_REQUEST_BYTES
            user = getattr(request, "user", None)  # set by AuthenticationMiddleware
            if length > limit and _is_upload(request) and user and user.is_authenticated:
                response = request_too_large(request, length)
                if length <= DISCARD_FACTOR * limit:
                    _discard_body(request)
                return response
        return self.get_response(request)


def _is_upload(request):
    try:
        return resolve(request.path_info).view_name == "uploads:upload"
    except Resolver404:
        return False


def _discard_body(request):
    """Read the rest of the body in small chunks and drop them, so that a browser still
    sending it gets our page rather than a connection reset."""
    try:
        while request.read(DISCARD_CHUNK):
            pass
    except OSError:  # the client went away (UnreadablePostError)
        pass
