"""Checking and resizing uploaded images: pure functions, no Django.

Both take the image as bytes or as an open binary file, and never trust what the client
said about it: the format comes from the file's own header bytes.

inspect_image() runs in the request and reads only the header (format, width, height),
so a bad upload is refused cheaply before it is stored. make_variants() runs in a
background job and decodes every pixel, because that is slow; a file that only fails
there raises ImageRejected too, and the job fails for good (resize_photo,
in uploads.services.photo_variants).
"""

import io
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from PIL import ExifTags, Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
VARIANT_SIZES = {"large": 1600, "medium": 800, "thumb": 320}  # long edge in px, largest first

JPEG_QUALITY = 85
WEBP_QUALITY = 85

# What _encode() makes: the only types a variant is ever stored or served as.
VARIANT_TYPES = {"jpg": "image/jpeg", "webp": "image/webp"}

Source = bytes | BinaryIO  # an image's bytes, or a readable, seekable binary file


class ImageRejected(ValueError):
    """The upload can't be used; the message follows the file's name in a sentence."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class Variant:
    name: str
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


@contextmanager
def _rejecting_bad_input() -> Iterator[None]:
    """Turn whatever Pillow raises while reading untrusted bytes into ImageRejected."""
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x Image.MAX_IMAGE_PIXELS Pillow only warns, and a warning
            # would let a decompression bomb through. Local, so the global limit is untouched.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageRejected:
        raise
    # DecompressionBombError is not an OSError, so it needs its own clause.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("has more pixels than we can safely decode") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("is not an image we can read") from exc
    except Exception as exc:
        # Malformed files make Pillow's decoders raise OSError, SyntaxError, ValueError,
        # EOFError, struct.error and more; any of them means the file is unusable.
        raise ImageRejected("is truncated or corrupt") from exc


def _format_of(im: Image.Image) -> str:
    # Phones often embed a second, preview image in their JPEGs; Pillow calls that MPO.
    return "JPEG" if im.format == "MPO" else str(im.format)


def _opened(source: Source, formats: list[str] | None = None) -> Image.Image:
    if isinstance(source, bytes | bytearray | memoryview):
        source = io.BytesIO(source)
    else:
        source.seek(0)
    return Image.open(source, formats=formats)


def inspect_image(source: Source, *, max_pixels: int) -> ImageInfo:
    """Return the format and size of an upload from its header, or raise ImageRejected.

    Only the header is read: no pixel is decoded here. Pillow identifies the format from
    the file's first bytes, whatever its name or declared content type says.
    """
    with _rejecting_bad_input(), _opened(source) as im:
        info = ImageInfo(_format_of(im), *im.size)
        # A small file can claim a huge size, and some plugins (EPS runs Ghostscript)
        # must never decode: both checks use the header alone.
        if info.format not in ALLOWED_FORMATS:
            raise ImageRejected(f"is a {info.format} image; allowed: JPEG, PNG, WebP, GIF")
        _check_pixels(info.width, info.height, max_pixels)
        return info


def _check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageRejected(
            f"is {width}×{height} pixels; "  # noqa: RUF001 (the sign is deliberate)
            f"the limit is {max_pixels / 1_000_000:g} megapixels"
        )


def make_variants(
    source: Source,
    *,
    sizes: Mapping[str, int] = VARIANT_SIZES,
    max_pixels: int | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[Variant]:
    """Resize an image to each of `sizes` (never upscaling), largest first.

    Raises ImageRejected when the file cannot be decoded: truncated or corrupt data, a
    decompression bomb, or (checked again from the header) more than `max_pixels`.
    """
    ordered = sorted(sizes.items(), key=lambda item: item[1], reverse=True)
    current, turn = _decode(source, ordered[0][1], max_pixels)
    # Resized copies inherit info, and the JPEG encoder writes a comment from it. Clearing
    # it drops EXIF (camera GPS!), XMP, ICC profile and comments from every variant.
    current.info.clear()

    variants = []
    for done, (name, long_edge) in enumerate(ordered, start=1):
        # Each variant is made from the previous one: shrinking 1600px is cheaper than 4000px.
        # _fit() treats width and height alike, so sizing before turning upright is the same.
        target = _fit(current.size, long_edge)
        if target != current.size:
            current = current.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if turn is not None:
            # Upright once, after the first resize: turning the large variant moves fewer
            # pixels than turning the decoded image (bench/images.py measures it).
            current, turn = current.transpose(turn), None
        variants.append(_encode(name, current))
        if on_progress:
            on_progress(done, len(ordered), name)
    return variants


def _decode(
    source: Source, long_edge: int, max_pixels: int | None
) -> tuple[Image.Image, Image.Transpose | None]:
    """The decoded image in the web's modes, and the transpose that makes it upright."""
    # Only our formats' plugins: if a caller skipped inspect_image, no other decoder runs.
    with _rejecting_bad_input(), _opened(source, sorted(ALLOWED_FORMATS)) as im:
        _check_pixels(*im.size, max_pixels)
        # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale for far less time and memory;
        # draft() must be told the target before anything loads the pixels. The target is
        # the aspect-fitted size, not a square box (as thumbnail() passes): for a 4:3 photo
        # a square box would keep the short side's scale at 1, a full-size decode.
        im.draft("RGB", _fit(im.size, long_edge))
        # The full decode, inside _rejecting_bad_input so that damage found only now
        # (truncated data, a corrupt stream) becomes ImageRejected. For an animated GIF
        # or WebP it decodes the first frame, the only one we use.
        im.load()
        # What ImageOps.exif_transpose() would do, applied later to a smaller image.
        turn = _ORIENTATION.get(im.getexif().get(ExifTags.Base.Orientation, 1))
        return _web_mode(im), turn


# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, long_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _web_mode(im: Image.Image) -> Image.Image:
    """Convert to L, RGB or RGBA: the modes our encoders take without surprises."""
    if im.mode.startswith("I"):
        # 16-bit greyscale: convert("L") would clip every value above 255 to white.
        return im.convert("I").point(lambda value: value / 257).convert("L")
    if im.has_transparency_data:  # RGBA, LA, PA, or a palette with a transparent colour
        return im if im.mode == "RGBA" else im.convert("RGBA")
    if im.mode in ("L", "RGB"):
        return im
    return im.convert("RGB")  # CMYK, P, 1: Pillow undoes Adobe's inverted CMYK on load


def _encode(name: str, im: Image.Image) -> Variant:
    buffer = io.BytesIO()
    if im.mode == "RGBA":
        # JPEG has no alpha channel; WebP keeps it and is read by every current browser.
        im.save(buffer, "WEBP", quality=WEBP_QUALITY)
        extension = "webp"
    else:
        im.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        extension = "jpg"
    return Variant(name, buffer.getvalue(), VARIANT_TYPES[extension], extension, *im.size)
