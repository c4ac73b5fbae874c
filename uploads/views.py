from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from uploads import storage
from uploads.forms import UploadForm
from uploads.imaging import VARIANT_TYPES
from uploads.selectors import (
    batch_get_for_user,
    photo_as_json,
    photo_displayed_size,
    photo_get_for_user,
    photos_for_user,
    photos_get_for_user,
)
from uploads.services import photo_delete, photo_retry, photos_upload


def wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


@require_safe
@login_required
def gallery(request):
    return render(request, "uploads/gallery.html", {"photos": photos_for_user(request.user)[:200]})


@require_safe
@never_cache
@login_required
def gallery_status(request):
    """The JSON of the photos named by ?photo=<id> (repeated), for the gallery's polling."""
    photos = photos_get_for_user(request.user, request.GET.getlist("photo")[:200])
    data = [photo_as_json(photo) for photo in photos]
    return JsonResponse({"photos": data, "terminal": all(p["terminal"] for p in data)})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def upload(request):
    if request.method != "POST":
        return render(request, "uploads/upload.html", {"form": UploadForm()})

    # uploads.middleware refuses an oversized request before anything reads its body;
    # this is the same check for a stack without it (the handler then skipped every file).
    length = content_length(request)
    if length > settings.UPLOAD_MAX_REQUEST_BYTES:
        return request_too_large(request, length)

    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return upload_refused(request, form, form.errors, status=413 if form.too_large else 400)

    photos = photos_upload(owner=request.user, images=form.cleaned_data["images"])
    if wants_json(request):
        payload = [photo_as_json(photo) for photo in photos]
        keys = ("id", "url", "status_url")
        return JsonResponse(
            {"photos": [{key: p[key] for key in keys} for p in payload]}, status=202
        )
    return redirect("uploads:batch", batch=photos[0].batch)


def content_length(request):
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def request_too_large(request, length):
    """The 413 for a whole request over UPLOAD_MAX_REQUEST_BYTES, told from its header."""
    limit = filesizeformat(settings.UPLOAD_MAX_REQUEST_BYTES)
    errors = {"images": [f"This upload is {filesizeformat(length)}; the limit is {limit}."]}
    return upload_refused(request, UploadForm(), errors, status=413)


def upload_refused(request, form, errors, *, status):
    """Nothing was stored: say why, which files were refused, and which were fine.

    The upload is all or nothing, so files that passed every check were not uploaded
    either; both the page and the JSON name them, so that nobody thinks they were.
    """
    refused = [{"name": r.name, "error": r.message} for r in form.refused]
    valid = list(form.valid)
    message = nothing_uploaded(valid)
    if wants_json(request):
        return JsonResponse(
            {"errors": errors, "message": message, "refused": refused, "valid": valid},
            status=status,
        )
    context = {
        "form": form,
        # A form that never saw the files (the request was too large) shows its reason here.
        "reasons": [] if form.is_bound else errors["images"],
        "message": message,
        "refused_names": [r["name"] for r in refused],
    }
    return render(request, "uploads/upload.html", context, status=status)


def nothing_uploaded(valid):
    if not valid:
        return "Nothing was uploaded."
    one = len(valid) == 1
    return (
        f"Nothing was uploaded. {', '.join(valid)} passed every check but "
        f"{'was' if one else 'were'} not uploaded either: choose {'it' if one else 'them'} "
        "again without the refused files."
    )


@require_safe
@login_required
def batch(request, batch):
    photos = batch_get_for_user(request.user, batch)
    return render(request, "uploads/batch.html", {"photos": photos, "batch": batch})


@require_safe
@never_cache
@login_required
def batch_status(request, batch):
    photos = batch_get_for_user(request.user, batch)
    data = [photo_as_json(photo) for photo in photos]
    return JsonResponse({"photos": data, "terminal": all(p["terminal"] for p in data)})


@require_safe
@login_required
def detail(request, photo_id):
    photo = photo_get_for_user(request.user, photo_id)
    width, height = photo_displayed_size(photo)
    context = {
        "photo": photo,
        "data": photo_as_json(photo),
        "width": width,
        "height": height,
        "large": photo.variants.get("large"),
    }
    return render(request, "uploads/detail.html", context)


@require_safe
@never_cache
@login_required
def status(request, photo_id):
    return JsonResponse(photo_as_json(photo_get_for_user(request.user, photo_id)))


@require_safe
@login_required
def variant(request, photo_id, name):
    photo = photo_get_for_user(request.user, photo_id)
    if not photo.published_at or name not in photo.variants:
        raise Http404("That size is not ready.")
    return variant_response(photo, name)


def variant_response(photo, name):
    """Send the browser to a variant: a presigned S3 URL, or the file itself.

    Either way the browser is told the type we made it as, with nosniff, so a file can
    never be taken for HTML, and a Content-Disposition with an ASCII name: inline for our
    image types, attachment for anything else.
    """
    content_type = storage.variant_content_type(photo, name)
    # Only our own image types are shown in the page; anything else is a download.
    inline = content_type in VARIANT_TYPES.values()
    filename = storage.variant_filename(photo, name)
    disposition = f'{"inline" if inline else "attachment"}; filename="{filename}"'
    if storage.is_s3():
        headers = {"ResponseContentType": content_type, "ResponseContentDisposition": disposition}
        response = redirect(storage.presigned_url(photo, name, headers=headers))
    else:
        response = FileResponse(storage.open_published(photo, name), content_type=content_type)
        response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@login_required
def retry(request, photo_id):
    photo = photo_get_for_user(request.user, photo_id)
    if photo_retry(photo=photo):
        messages.info(request, "Trying again.")
    return redirect("uploads:detail", photo_id=photo.id)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def delete(request, photo_id):
    photo = photo_get_for_user(request.user, photo_id)
    if request.method == "POST":
        photo_delete(photo=photo)
        messages.info(request, f"Deleted {photo.original_name}.")
        return redirect("uploads:gallery")
    return render(request, "uploads/delete.html", {"photo": photo})
