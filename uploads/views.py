from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from uploads import storage
from uploads.forms import UploadForm
from uploads.selectors import (
    batch_get_for_user,
    photo_as_json,
    photo_get_for_user,
    photos_for_user,
)
from uploads.services import photo_delete, photo_retry, photos_upload


def wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


@login_required
def gallery(request):
    return render(request, "uploads/gallery.html", {"photos": photos_for_user(request.user)[:200]})


@login_required
def upload(request):
    if request.method != "POST":
        return render(request, "uploads/upload.html", {"form": UploadForm()})

    # Refuse an oversized request from its header, before Django reads the body.
    length = int(request.headers.get("Content-Length") or 0)
    if length > settings.UPLOAD_MAX_REQUEST_BYTES:
        limit = filesizeformat(settings.UPLOAD_MAX_REQUEST_BYTES)
        errors = {"images": [f"This upload is {filesizeformat(length)}; the limit is {limit}."]}
        return upload_refused(request, UploadForm(), errors, status=413)

    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return upload_refused(request, form, form.errors, status=400)

    photos = photos_upload(owner=request.user, images=form.cleaned_data["images"])
    if wants_json(request):
        payload = [photo_as_json(photo) for photo in photos]
        keys = ("id", "url", "status_url")
        return JsonResponse(
            {"photos": [{key: p[key] for key in keys} for p in payload]}, status=202
        )
    return redirect("uploads:batch", batch=photos[0].batch)


def upload_refused(request, form, errors, *, status):
    if wants_json(request):
        return JsonResponse({"errors": errors}, status=status)
    refused = [] if form.is_bound else errors["images"]
    return render(request, "uploads/upload.html", {"form": form, "refused": refused}, status=status)


@login_required
def batch(request, batch):
    photos = batch_get_for_user(request.user, batch)
    return render(request, "uploads/batch.html", {"photos": photos, "batch": batch})


@never_cache
@login_required
def batch_status(request, batch):
    photos = batch_get_for_user(request.user, batch)
    data = [photo_as_json(photo) for photo in photos]
    return JsonResponse({"photos": data, "terminal": all(p["terminal"] for p in data)})


@login_required
def detail(request, photo_id):
    photo = photo_get_for_user(request.user, photo_id)
    return render(request, "uploads/detail.html", {"photo": photo, "data": photo_as_json(photo)})


@never_cache
@login_required
def status(request, photo_id):
    return JsonResponse(photo_as_json(photo_get_for_user(request.user, photo_id)))


@login_required
def variant(request, photo_id, name):
    photo = photo_get_for_user(request.user, photo_id)
    if not photo.published_at or name not in photo.variants:
        raise Http404("That size is not ready.")
    return storage.variant_response(photo, name)


@require_POST
@login_required
def retry(request, photo_id):
    photo = photo_get_for_user(request.user, photo_id)
    if photo_retry(photo):
        messages.info(request, "Trying again.")
    return redirect("uploads:detail", photo_id=photo.id)


@login_required
def delete(request, photo_id):
    photo = photo_get_for_user(request.user, photo_id)
    if request.method == "POST":
        photo_delete(photo)
        messages.info(request, f"Deleted {photo.original_name}.")
        return redirect("uploads:gallery")
    return render(request, "uploads/delete.html", {"photo": photo})
