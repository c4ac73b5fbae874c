"""Checking and resizing uploaded images: pure functions, bytes in and bytes out, no Django.

inspect_image() runs in the request, so a bad upload is refused before it is stored;
make_variants() runs in a background job, because decoding a 12-megapixel photo is slow.
"""

import io
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
VARIANT_SIZES = {"large": 1600, "medium": 800, "thumb": 320}  # long edge in px, largest first

JPEG_QUALITY = 85
WEBP_QUALITY = 85


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


def inspect_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Return the format and size of an upload, or raise ImageRejected."""
    with _rejecting_bad_input(), Image.open(io.BytesIO(data)) as im:
        info = ImageInfo(_format_of(im), *im.size)
        # Both checks use the header only, before any pixels are decoded: a small file can
        # claim a huge size, and some plugins (EPS runs Ghostscript) should never decode.
        if info.format not in ALLOWED_FORMATS:
            raise ImageRejected(f"is a {info.format} image; allowed: JPEG, PNG, WebP, GIF")
        if info.width * info.height > max_pixels:
            raise ImageRejected(
                f"is {info.width}×{info.height} pixels; "  # noqa: RUF001 (the sign is deliberate)
                f"the limit is {max_pixels / 1_000_000:g} megapixels"
            )
        # verify() passes truncated JPEGs; only decoding every pixel proves the file is whole.
        # For an animated GIF this decodes the first frame, the only one we use.
        im.load()
        return info


def make_variants(
    data: bytes,
    *,
    sizes: Mapping[str, int] = VARIANT_SIZES,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[Variant]:
    """Resize an image to each of `sizes` (never upscaling), largest first."""
    ordered = sorted(sizes.items(), key=lambda item: item[1], reverse=True)
    current = _decode_upright(data, ordered[0][1])
    # Resized copies inherit info, and the JPEG encoder writes a comment from it. Clearing
    # it drops EXIF (camera GPS!), XMP, ICC profile and comments from every variant.
    current.info.clear()

    variants = []
    for done, (name, long_edge) in enumerate(ordered, start=1):
        # Each variant is made from the previous one: shrinking 1600px is cheaper than 4000px.
        target = _fit(current.size, long_edge)
        if target != current.size:
            current = current.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        variants.append(_encode(name, current))
        if on_progress:
            on_progress(done, len(ordered), name)
    return variants


def _decode_upright(data: bytes, long_edge: int) -> Image.Image:
    # Only our formats' plugins: if a caller skipped inspect_image, no other decoder runs.
    with (
        _rejecting_bad_input(),
        Image.open(io.BytesIO(data), formats=sorted(ALLOWED_FORMATS)) as im,
    ):
        # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale for far less time and memory;
        # draft() must be told the target before anything loads the pixels.
        im.draft("RGB", _fit(im.size, long_edge))
        ImageOps.exif_transpose(im, in_place=True)
        return _web_mode(im)


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
        content_type, extension = "image/webp", "webp"
    else:
        im.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        content_type, extension = "image/jpeg", "jpg"
    return Variant(name, buffer.getvalue(), content_type, extension, *im.size)
