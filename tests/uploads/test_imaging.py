import contextlib
import io
import random
import struct
import zipfile
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms

from uploads.imaging import ImageInfo, ImageRejected, inspect_image, make_variants

RED, BLUE = (255, 0, 0), (0, 0, 255)
MAX_PIXELS = 50_000_000


def encode(im, format, **params):
    buffer = io.BytesIO()
    im.save(buffer, format, **params)
    return buffer.getvalue()


def opened(variant):
    return Image.open(io.BytesIO(variant.data))


def red_left_blue_right(size=(400, 200)):
    im = Image.new("RGB", size, BLUE)
    im.paste(RED, (0, 0, size[0] // 2, size[1]))
    return im


def noise_jpeg(size=(200, 200)):
    return encode(Image.effect_noise(size, 40).convert("RGB"), "JPEG")


def png_claiming(width, height):
    """A PNG whose header claims a size its few bytes don't hold: a bomb without the memory."""
    data = bytearray(encode(Image.new("1", (1, 1)), "PNG"))
    # Bytes 16-24 are IHDR's width and height, 29-33 its checksum.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(data[12:29]))
    return bytes(data)


def assert_close(pixel, expected, tolerance=40):
    assert all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True)), pixel


# make_variants: orientation, metadata, sizes


def test_it_applies_the_exif_orientation_before_resizing():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown turned 90° clockwise
    data = encode(red_left_blue_right((400, 200)), "JPEG", exif=exif)

    variants = make_variants(data)

    assert [(v.width, v.height) for v in variants] == [(200, 400), (200, 400), (160, 320)]
    for variant in variants:
        im = opened(variant)
        assert im.size == (variant.width, variant.height)
        assert_close(im.getpixel((im.width // 2, im.height // 4)), RED)  # the left is now on top
        assert_close(im.getpixel((im.width // 2, im.height * 3 // 4)), BLUE)


def private_metadata():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.Orientation] = 1
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 12.0)
    return {
        "exif": exif,
        "xmp": b'<x:xmpmeta xmlns:x="adobe:ns:meta/">where I live</x:xmpmeta>',
        "comment": b"taken at 12 Acacia Avenue",
        "icc_profile": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    }


@pytest.mark.parametrize(
    ("mode", "format", "content_type"),
    [("RGB", "JPEG", "image/jpeg"), ("RGBA", "PNG", "image/webp")],
)
def test_it_strips_gps_and_all_other_metadata(mode, format, content_type):
    # 400px wide: large and medium keep the original size, thumb is resized.
    data = encode(Image.new(mode, (400, 300), "orange"), format, **private_metadata())
    original = Image.open(io.BytesIO(data))
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # so the test can fail
    assert {"exif", "icc_profile"} <= original.info.keys()

    for variant in make_variants(data):
        im = opened(variant)
        assert variant.content_type == content_type
        assert not im.getexif()
        assert not im.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & im.info.keys()


def test_it_makes_each_size_from_a_large_photo():
    variants = make_variants(encode(Image.new("RGB", (4000, 3000), "teal"), "JPEG"))

    assert [(v.name, v.width, v.height) for v in variants] == [
        ("large", 1600, 1200),
        ("medium", 800, 600),
        ("thumb", 320, 240),
    ]
    for variant in variants:
        assert opened(variant).size == (variant.width, variant.height)
        assert (variant.content_type, variant.extension) == ("image/jpeg", "jpg")


def test_it_never_upscales_a_small_image():
    variants = make_variants(encode(red_left_blue_right((200, 100)), "PNG"))

    assert [(v.width, v.height) for v in variants] == [(200, 100)] * 3


def test_it_makes_variants_largest_first_whatever_order_sizes_come_in():
    data = encode(Image.new("RGB", (1000, 500)), "PNG")

    variants = make_variants(data, sizes={"small": 100, "big": 600})

    assert [(v.name, v.width) for v in variants] == [("big", 600), ("small", 100)]


def test_it_reports_progress_after_each_variant():
    calls = []

    make_variants(noise_jpeg(), on_progress=lambda *args: calls.append(args))

    assert calls == [(1, 3, "large"), (2, 3, "medium"), (3, 3, "thumb")]


# make_variants: modes that a plain save-as-JPEG gets wrong


def only_variant(data):
    (variant,) = make_variants(data, sizes={"large": 1600})
    return variant, opened(variant)


def test_it_turns_cmyk_into_rgb_with_the_right_colours():
    data = encode(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG")

    variant, im = only_variant(data)

    assert (variant.content_type, im.mode) == ("image/jpeg", "RGB")
    assert_close(im.getpixel((32, 32)), RED)


def test_it_scales_16_bit_greyscale_down_rather_than_clipping_it_to_white():
    gradient = Image.linear_gradient("L").convert("I").point(lambda v: v * 257)
    data = encode(gradient.convert("I;16"), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"

    variant, im = only_variant(data)

    assert (variant.content_type, im.mode) == ("image/jpeg", "L")
    assert im.getpixel((128, 0)) < 10
    assert 100 < im.getpixel((128, 128)) < 156
    assert im.getpixel((128, 255)) > 245


def test_it_keeps_the_transparency_of_a_palette_image():
    im = Image.new("P", (64, 64), 0)
    im.putpalette([*RED, *BLUE])
    im.paste(1, (0, 0, 32, 64))
    data = encode(im, "PNG", transparency=1)

    variant, out = only_variant(data)

    assert (variant.content_type, variant.extension, out.mode) == ("image/webp", "webp", "RGBA")
    assert out.getpixel((8, 32))[3] == 0
    assert_close(out.getpixel((56, 32)), (*RED, 255))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_it_keeps_an_alpha_channel_as_webp(mode):
    im = Image.new("RGBA", (64, 64), (*RED, 255))
    im.paste((0, 0, 255, 0), (0, 0, 32, 64))
    source = im.convert(mode)
    assert source.getpixel((8, 32))[-1] == 0

    variant, out = only_variant(encode(source, "PNG"))

    assert (variant.content_type, out.mode) == ("image/webp", "RGBA")
    assert out.getpixel((8, 32))[3] == 0
    assert out.getpixel((56, 32))[3] == 255


def test_it_keeps_greyscale_as_a_greyscale_jpeg():
    variant, im = only_variant(encode(Image.linear_gradient("L"), "PNG"))

    assert (variant.content_type, im.mode) == ("image/jpeg", "L")


def test_it_uses_the_first_frame_of_an_animated_gif():
    frames = [Image.new("RGB", (64, 64), RED), Image.new("RGB", (64, 64), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 2

    variant, im = only_variant(data)

    assert variant.content_type == "image/jpeg"
    assert_close(im.getpixel((32, 32)), RED)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", noise_jpeg()[:300], encode(Image.new("RGB", (8, 8)), "TIFF")],
    ids=["empty", "text", "truncated-jpeg", "tiff"],
)
def test_it_rejects_what_it_cannot_resize(data):
    with pytest.raises(ImageRejected):
        make_variants(data)


# inspect_image: accepted uploads


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "GIF"])
def test_it_accepts_each_allowed_format(format):
    data = encode(red_left_blue_right((30, 20)), format)

    assert inspect_image(data, max_pixels=MAX_PIXELS) == ImageInfo(format, 30, 20)


def test_it_accepts_a_phone_jpeg_that_pillow_calls_mpo():
    frames = [red_left_blue_right((30, 20)), Image.new("RGB", (15, 10))]
    data = encode(frames[0], "MPO", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"

    assert inspect_image(data, max_pixels=MAX_PIXELS) == ImageInfo("JPEG", 30, 20)
    assert len(make_variants(data)) == 3


# inspect_image: rejected uploads


def zip_file():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", noise_jpeg())
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        random.Random(1).randbytes(2000),
        b"<!doctype html><html><body><img src=x></body></html>",
        zip_file(),
    ],
    ids=["empty", "random", "html", "zip"],
)
def test_it_rejects_bytes_that_are_not_an_image(data):
    with pytest.raises(ImageRejected, match="is not an image we can read"):
        inspect_image(data, max_pixels=MAX_PIXELS)


def test_a_truncated_jpeg_passes_the_header_check_and_the_full_decode_refuses_it():
    whole = noise_jpeg()
    data = whole[: len(whole) // 2]

    assert inspect_image(data, max_pixels=MAX_PIXELS) == ImageInfo("JPEG", 200, 200)
    with pytest.raises(ImageRejected, match="is truncated or corrupt"):
        make_variants(data)


def test_inspecting_an_upload_decodes_no_pixel(monkeypatch):
    from PIL import ImageFile

    def no_decoding(self):
        raise AssertionError("inspect_image decoded pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for format in ("JPEG", "PNG", "WEBP", "GIF"):
        data = encode(red_left_blue_right((30, 20)), format)
        assert inspect_image(data, max_pixels=MAX_PIXELS) == ImageInfo(format, 30, 20)


def test_inspecting_an_open_file_reads_its_header_only():
    data = encode(Image.effect_noise((600, 400), 40).convert("RGB"), "PNG")
    file = io.BytesIO(data)
    reads = []
    read = file.read
    file.read = lambda *size: reads.append(read(*size)) or reads[-1]

    assert inspect_image(file, max_pixels=MAX_PIXELS) == ImageInfo("PNG", 600, 400)
    assert sum(map(len, reads)) < len(data) // 10


def test_the_full_decode_applies_the_pixel_limit_from_the_header_again():
    data = encode(Image.new("RGB", (20, 20)), "PNG")

    with pytest.raises(ImageRejected, match=r"the limit is 0\.0001 megapixels"):
        make_variants(data, max_pixels=100)


@pytest.mark.parametrize("format", ["TIFF", "BMP"])
def test_it_rejects_formats_we_do_not_serve(format):
    data = encode(Image.new("RGB", (8, 8)), format)

    with pytest.raises(ImageRejected) as rejected:
        inspect_image(data, max_pixels=MAX_PIXELS)

    assert str(rejected.value) == f"is a {format} image; allowed: JPEG, PNG, WebP, GIF"


def test_it_rejects_an_image_over_the_pixel_limit_from_its_header_alone():
    data = png_claiming(10_000, 6_000)  # 60 MP: under Pillow's own limit, over ours
    assert len(data) < 100

    with pytest.raises(ImageRejected) as rejected:
        inspect_image(data, max_pixels=50_000_000)

    assert str(rejected.value) == "is 10000×6000 pixels; the limit is 50 megapixels"  # noqa: RUF001


def test_it_applies_the_pixel_limit_to_small_images_too():
    data = encode(Image.new("RGB", (20, 20)), "PNG")

    with pytest.raises(ImageRejected) as rejected:
        inspect_image(data, max_pixels=100)

    assert str(rejected.value) == "is 20×20 pixels; the limit is 0.0001 megapixels"  # noqa: RUF001


def test_it_rejects_an_image_over_pillows_warning_threshold_even_with_a_generous_limit():
    pixels = Image.MAX_IMAGE_PIXELS + 1_000_000  # Pillow only warns up to twice its limit
    data = png_claiming(pixels // 10_000 + 1, 10_000)

    with pytest.raises(ImageRejected, match="more pixels than we can safely decode"):
        inspect_image(data, max_pixels=10 * pixels)


def test_it_rejects_a_decompression_bomb_although_pillow_raises_no_oserror_for_it():
    data = png_claiming(30_000, 30_000)  # 900 MP: over twice Pillow's limit
    assert 2 * Image.MAX_IMAGE_PIXELS < 30_000 * 30_000
    assert not issubclass(Image.DecompressionBombError, OSError)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))

    with pytest.raises(ImageRejected, match="more pixels than we can safely decode"):
        inspect_image(data, max_pixels=10**12)


def test_it_leaves_pillows_global_limit_and_warning_filters_alone():
    limit = Image.MAX_IMAGE_PIXELS

    inspect_image(encode(Image.new("RGB", (8, 8)), "PNG"), max_pixels=MAX_PIXELS)

    assert limit == Image.MAX_IMAGE_PIXELS
    with pytest.warns(Image.DecompressionBombWarning):
        Image.open(io.BytesIO(png_claiming(limit // 10_000 + 1, 10_000)))


def corruptions(data, count, seed):
    rng = random.Random(seed)
    for _ in range(count):
        damaged = bytearray(data[: rng.randrange(len(data) + 1)])
        for _ in range(rng.randrange(1, 6)):
            if damaged:
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        yield bytes(damaged)


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "GIF"])
def test_it_raises_nothing_but_image_rejected_for_damaged_files(format):
    data = encode(Image.effect_noise((24, 24), 40).convert("RGB"), format)

    for damaged in corruptions(data, count=150, seed=format):
        with contextlib.suppress(ImageRejected):
            inspect_image(damaged, max_pixels=MAX_PIXELS)
