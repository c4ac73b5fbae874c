from dataclasses import dataclass

from django import forms
from django.conf import settings
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
    name: str
    data: bytes
    info: imaging.ImageInfo


class UploadForm(forms.Form):
    images = MultipleImageField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["images"].help_text = (
            f"JPEG, PNG, WebP or GIF; up to {settings.UPLOAD_MAX_FILES} files of "
            f"{filesizeformat(settings.UPLOAD_MAX_FILE_BYTES)} each."
        )

    def clean_images(self):
        """Check every file; name each bad one. Nothing is stored unless all are good."""
        files = self.cleaned_data["images"]
        if len(files) > settings.UPLOAD_MAX_FILES:
            raise forms.ValidationError(
                f"That is {len(files)} files; you can upload at most "
                f"{settings.UPLOAD_MAX_FILES} at once."
            )
        checked, errors = [], []
        for file in files:
            name = display_name(file.name)
            if not file.size:
                errors.append(f"{name} is empty.")
                continue
            if file.size > settings.UPLOAD_MAX_FILE_BYTES:
                errors.append(
                    f"{name} is {filesizeformat(file.size)}; the limit is "
                    f"{filesizeformat(settings.UPLOAD_MAX_FILE_BYTES)}."
                )
                continue
            data = file.read()
            try:
                info = imaging.inspect_image(data, max_pixels=settings.UPLOAD_MAX_PIXELS)
            except imaging.ImageRejected as exc:
                errors.append(f"{name} {exc}")
                continue
            checked.append(CheckedImage(name=name, data=data, info=info))
        if errors:
            raise forms.ValidationError(errors)
        return checked


def display_name(name):
    """The client's file name, made safe for display; it never becomes a storage key."""
    return (get_valid_filename(name or "") or "unnamed")[-200:]
