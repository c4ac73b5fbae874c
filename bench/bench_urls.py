"""Bench-only ROOT_URLCONF: the site's URLs, plus the comparison views under /bench/.

Nothing here is reachable in the app: only bench/bench_settings.py names this module.

CSRF: every POST the bench sends goes to a /bench/ URL wrapped in csrf_exempt, so that
50 clients need no form page and cookie dance first. /bench/signup/queued/ and
/bench/upload/queued/ are the site's own views (accounts.views.signup and
uploads.views.upload), unchanged, behind that wrapper: the same code as
/accounts/signup/ and /photos/upload/ minus the CSRF token check (a few microseconds of
HMAC-free string comparison). The other versions copy those views' steps and change only
what happens to the job:

- signup inline: the user and profile in the same transaction, then the welcome email
  rendered and sent with django.core.mail in the request (what the welcome job does,
  without the job): the "wrong" design, which makes the visitor wait for SMTP;
- signup no-job: the user and profile only;
- upload inline: the Photo rows and originals, then uploads.services.photo_resize on
  each original and the variants staged, in the request (what resize_photo does);
- upload no-job: the Photo rows and originals only.
- /bench/ok/: a trivial view ("ok") through the same middleware.
"""

import uuid

from django.contrib.auth import get_user_model, login
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts import views as account_views
from accounts.forms import SignupForm
from accounts.limits import signup_wait
from accounts.models import Profile
from accounts.services import EMAIL_TAKEN
from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as site_urlpatterns
from uploads import storage
from uploads import views as upload_views
from uploads.forms import UploadForm
from uploads.models import Photo
from uploads.services import EXTENSIONS, photo_resize


def ok(request):
    return HttpResponse("ok", content_type="text/plain")


# --- signup -----------------------------------------------------------------------------


@transaction.atomic
def _user_and_profile(*, username, email, password):
    """accounts.services._user_signup without its two enqueues."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    Profile.objects.create(user=user)
    return user


def _create(username, email, password):
    try:
        return _user_and_profile(username=username, email=email, password=password)
    except IntegrityError:
        raise ValidationError({"email": EMAIL_TAKEN}) from None


def signup_view(*, send_welcome_inline):
    """accounts.views.signup with its service swapped for the bench's version."""

    @csrf_exempt
    @require_http_methods(["GET", "HEAD", "POST"])
    def view(request):
        if request.method == "POST" and (
            wait := signup_wait(request, request.POST.get("email", ""))
        ):
            return HttpResponse(f"rate limited {wait}", status=429)
        form = SignupForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                user = _create(
                    form.cleaned_data["username"],
                    form.cleaned_data["email"],
                    form.cleaned_data["password1"],
                )
            except ValidationError as taken:
                form.add_error(None, taken)
            else:
                if send_welcome_inline:
                    # What welcome_email_send does in the job, here in the request.
                    body = render_to_string("emails/welcome.txt", {"user": user})
                    send_mail(
                        subject="Welcome to the photo site",
                        message=body,
                        from_email=None,
                        recipient_list=[user.email],
                    )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("jobs:list")
        return render(request, "accounts/signup.html", {"form": form})

    return view


# --- upload -----------------------------------------------------------------------------


def upload_view(*, resize_inline):
    """uploads.views.upload's POST with photos_upload swapped for the bench's version."""

    @csrf_exempt
    @require_POST
    def view(request):
        if not request.user.is_authenticated:
            return HttpResponse("log in first", status=403)
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors}, status=400)
        batch = uuid.uuid4()
        photos = []
        with transaction.atomic():
            for image in form.cleaned_data["images"]:
                photo = Photo.objects.create(
                    owner=request.user,
                    batch=batch,
                    original_name=image.name,
                    original_format=image.info.format,
                    original_ext=EXTENSIONS[image.info.format],
                    width=image.info.width,
                    height=image.info.height,
                    size_bytes=image.size,
                )
                storage.save_original(photo, image.file)
                photos.append(photo)
        if resize_inline:
            for photo in photos:
                photo_resize(photo=photo)  # what the resize_photo job does, here in the request
        return JsonResponse({"photos": [str(photo.id) for photo in photos]}, status=202)

    return view


urlpatterns = [
    path("bench/ok/", ok, name="bench-ok"),
    path("bench/signup/queued/", csrf_exempt(account_views.signup), name="bench-signup-queued"),
    path("bench/signup/inline/", signup_view(send_welcome_inline=True)),
    path("bench/signup/nojob/", signup_view(send_welcome_inline=False)),
    path("bench/upload/queued/", csrf_exempt(upload_views.upload), name="bench-upload-queued"),
    path("bench/upload/inline/", upload_view(resize_inline=True)),
    path("bench/upload/nojob/", upload_view(resize_inline=False)),
    *site_urlpatterns,
]
