"""Fuzzing the upload validator and the worker's image step with Hypothesis.

Inputs: random bytes, random bytes behind a real format's signature, and real JPEG, PNG,
GIF and WebP files mutated (bytes flipped, inserted, deleted, header sizes rewritten,
cut short). The only outcomes allowed: the form refuses the file with a message naming
it; or the resize step refuses it with jobs.tracking.Permanent and the message for
people; or it makes correct variants. Never another exception, and never a hang: each
example runs under an alarm far below the resize job's timeout.

Bounded for CI: a fixed number of examples, derandomized (the same examples every run)
and no example database (nothing written under .hypothesis/).
"""

import faulthandler
import io
import random
import signal
import struct
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils.datastructures import MultiValueDict
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image

from jobs.tracking import Permanent
from uploads import imaging
from uploads.forms import UploadForm
from uploads.services import photo_variants

EXAMPLE_SECONDS = 10  # an alarm per example; the resize job's own timeout is far longer
MAX_PIXELS = 4_000_000  # a rewritten header may claim up to this much: bounded memory
JOB_REFUSAL = "This file could not be read as an image: it "

# Pillow warns about the EXIF of damaged files before it reads on; that is no failure.
pytestmark = pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")


def encode(im, format, **params):
    buffer = io.BytesIO()
    im.save(buffer, format, **params)
    return buffer.getvalue()


def seeds():
    # Noise from a seeded Random: Image.effect_noise depends on what ran before it.
    noise = Image.frombytes("RGB", (48, 32), random.Random(0).randbytes(48 * 32 * 3))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    palette = noise.convert("P")
    rgba = noise.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(noise.size))
    frames = [palette, noise.rotate(90).convert("P")]
    # Larger than the thumbnail, so that the resizing path runs too.
    bands = [Image.linear_gradient("L"), Image.radial_gradient("L"), Image.linear_gradient("L")]
    scene = Image.merge("RGB", [band.resize((900, 600)) for band in bands]).rotate(30)
    return [
        encode(scene, "JPEG", quality=70),
        encode(scene.convert("RGBA"), "PNG"),
        encode(noise, "JPEG", quality=80),
        encode(noise, "JPEG", progressive=True, exif=exif),
        encode(noise.convert("CMYK"), "JPEG"),
        encode(rgba, "PNG"),
        encode(palette, "PNG", transparency=0),
        encode(Image.linear_gradient("L").resize((40, 30)).convert("I;16"), "PNG"),
        encode(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0),
        encode(noise, "WEBP", quality=70),
        encode(rgba, "WEBP", lossless=True),
    ]


SEEDS = seeds()
SIGNATURES = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8 "]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    # Positions and values from a Random that Hypothesis seeds: its own draws lean towards
    # small values, which would damage the first bytes nearly every time.
    rng = draw(st.randoms(use_true_random=True))
    for _ in range(draw(st.integers(1, 4))):
        # A quarter of the damage lands in the first bytes, where the headers are; the
        # rest spares the format's signature, so that most files reach the decoder.
        if rng.random() < 0.25:
            where = rng.randrange(min(64, len(data)) + 1)
        else:
            where = rng.randrange(min(16, len(data)), len(data) + 1)
        kind = rng.choice(["flip", "flip", "insert", "delete", "size", "cut"])
        if kind == "flip" and where < len(data):
            data[where] = rng.randrange(256)
        elif kind == "insert":
            data[where:where] = rng.randbytes(rng.randrange(1, 33))
        elif kind == "delete":
            del data[where : where + rng.randrange(1, 33)]
        elif kind == "size":  # a 16- or 32-bit field rewritten: width and height live there
            layout = rng.choice([">H", "<H", ">I", "<I"])
            value = rng.randrange(2 ** (8 * struct.calcsize(layout)))
            data[where : where + struct.calcsize(layout)] = struct.pack(layout, value)
        elif kind == "cut":
            del data[where:]
    return bytes(data)


signed_noise = st.builds(
    lambda signature, rest: signature + rest, st.sampled_from(SIGNATURES), st.binary(max_size=2048)
)
# One example in ten is random bytes, one random bytes behind a real signature, and the
# rest are real files, damaged.
untrusted_bytes = st.integers(0, 9).flatmap(
    lambda kind: st.binary(max_size=2048) if kind == 0 else signed_noise if kind == 1 else mutated()
)


class Hung(Exception):
    pass


@contextmanager
def at_most(seconds):
    """Fail an example still running after `seconds`. SIGALRM interrupts Python code;
    a decoder stuck in C never lets it run, so a watchdog thread then ends the whole
    test run, with every thread's traceback, rather than let CI hang."""

    def hung(signum, frame):
        raise Hung(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(2 * seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def validate(data):
    """The request's checks, as the upload view runs them."""
    form = UploadForm(
        data={}, files=MultiValueDict({"images": [SimpleUploadedFile("x.jpg", data)]})
    )
    if form.is_valid():
        [image] = form.cleaned_data["images"]
        return image
    [message] = form.errors["images"]
    assert message.startswith("x.jpg "), message
    assert form.refused and form.refused[0].name == "x.jpg"
    return None


def assert_correct(variants, image):
    assert [v.name for v in variants] == list(imaging.VARIANT_SIZES)
    previous = None
    for variant in variants:
        long_edge = imaging.VARIANT_SIZES[variant.name]
        assert imaging.VARIANT_TYPES[variant.extension] == variant.content_type
        with Image.open(io.BytesIO(variant.data)) as out:
            out.load()
            assert out.format == {"jpg": "JPEG", "webp": "WEBP"}[variant.extension]
            assert out.size == (variant.width, variant.height)
            assert not out.getexif()
        assert 1 <= max(variant.width, variant.height) <= long_edge
        # Never upscaled: no side longer than the original's, turned upright or not.
        sides, original = sorted(variant_size(variant)), sorted(image_size(image))
        assert sides[0] <= original[0] and sides[1] <= original[1]
        if previous:
            assert variant.width <= previous.width and variant.height <= previous.height
        previous = variant


def variant_size(variant):
    return variant.width, variant.height


def image_size(image):
    return image.info.width, image.info.height


def test_the_seeds_are_real_images_of_every_allowed_format():
    formats = {imaging.inspect_image(seed, max_pixels=MAX_PIXELS).format for seed in SEEDS}
    assert formats == imaging.ALLOWED_FORMATS


@settings(
    max_examples=200,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=untrusted_bytes)
def test_untrusted_bytes_are_refused_with_a_message_or_become_correct_variants(data):
    with override_settings(UPLOAD_MAX_PIXELS=MAX_PIXELS), at_most(EXAMPLE_SECONDS):
        image = validate(data)
        if image is None:
            event("refused by the form")
            return
        try:
            variants = photo_variants(image.file)
        except Permanent as refused:
            assert str(refused).startswith(JOB_REFUSAL), refused
            event("refused by the job")
            return
        assert_correct(variants, image)
        event("made variants")


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_seed_unharmed_becomes_correct_variants(seed):
    with override_settings(UPLOAD_MAX_PIXELS=MAX_PIXELS):
        image = validate(SEEDS[seed])
        assert image is not None
        assert_correct(photo_variants(image.file), image)
