from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename

from uploads import imaging


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    widget = MultipleFileInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if not files:
            raise forms.ValidationError("Choose at least one image.", code="required")
        return files


@dataclass(frozen=True)
class CheckedImage:
    """A file that passed the request's checks, still as Django received it: in memory
    when small, in a temporary file otherwise. It is never read into memory whole."""

    name: str
    file: UploadedFile
    info: imaging.ImageInfo

    @property
    def size(self):
        return self.file.size


@dataclass(frozen=True)
class Refusal:
    name: str
    message: str
    too_large: bool = False


class UploadForm(forms.Form):
    """The cheap checks of an upload: count, size, and each file's header (format,
    dimensions, pixel limit). The full decode happens in the resize job.

    After is_valid(), `valid` names the files that passed and `refused` says why each
    other one did not; `too_large` is true when a size limit refused one (a 413).
    """

    images = MultipleImageField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["images"].help_text = (
            f"JPEG, PNG, WebP or GIF; up to {settings.UPLOAD_MAX_FILES} files of "
            f"{filesizeformat(settings.UPLOAD_MAX_FILE_BYTES)} each."
        )
        self.valid, self.refused = [], []

    @property
    def too_large(self):
        return any(refusal.too_large for refusal in self.refused)

    def clean_images(self):
        """Check every file; name each bad one. Nothing is stored unless all are good."""
        files = self.cleaned_data["images"]
        if len(files) > settings.UPLOAD_MAX_FILES:
            raise forms.ValidationError(
                f"That is {len(files)} files; you can upload at most "
                f"{settings.UPLOAD_MAX_FILES} at once.",
                code="too_many",
            )
        checked = []
        for file in files:
            name = display_name(file.name)
            refusal = self._refusal(name, file)
            if refusal:
                self.refused.append(refusal)
                continue
            try:
                # The header only, whatever the client said the file was.
                info = imaging.inspect_image(file, max_pixels=settings.UPLOAD_MAX_PIXELS)
            except imaging.ImageRejected as exc:
                self.refused.append(Refusal(name, f"{name} {exc}"))
                continue
            checked.append(CheckedImage(name=name, file=file, info=info))
        self.valid = [image.name for image in checked]
        if self.refused:
            raise forms.ValidationError([refusal.message for refusal in self.refused])
        return checked

    @staticmethod
    def _refusal(name, file):
        if not file.size:
            return Refusal(name, f"{name} is empty.")
        if file.size > settings.UPLOAD_MAX_FILE_BYTES:
            return Refusal(
                name,
                f"{name} is {filesizeformat(file.size)}; the limit is "
                f"{filesizeformat(settings.UPLOAD_MAX_FILE_BYTES)}.",
                too_large=True,
            )
        return None


def display_name(name):
    """The client's file name, made safe for display; it never becomes a storage key."""
    try:
        cleaned = get_valid_filename(name or "")
    except SuspiciousFileOperation:  # nothing usable was left of it, e.g. "<>"
        cleaned = ""
    return (cleaned or "unnamed")[-200:]
