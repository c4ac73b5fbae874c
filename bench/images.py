"""A 12-megapixel photo to every variant: the app's make_variants() against naive Pillow.

Run: .venv/bin/python bench/images.py            (BENCH_QUICK=1: fewer runs)

Input: a synthetic 4000x3000 photo-like JPEG (gradients plus noise, quality 90, EXIF
orientation 6, about 5 MiB), made in memory. Each approach turns it into the three
variants of uploads.imaging.VARIANT_SIZES (1600, 800, 320 px long edge), upright, as
JPEG quality 85, optimized and progressive:

- app: uploads.imaging.make_variants(): draft() decode at the largest JPEG scale that
  still yields the large variant, each variant from the previous one, turned upright
  after the first resize (fewer pixels to move than the decoded image).
- naive: full decode, exif_transpose, every variant resized from the full-size original
  with LANCZOS.
- thumbnail(): Pillow's Image.thumbnail() for the large variant (then chained like the
  app). It picks its draft scale from the box (1600x1600 times reducing_gap), not from
  the image's aspect ratio, so a 4:3 photo decodes at full size: what the app's own
  draft() call avoids.
- pyvips (only if `import pyvips` works, i.e. libvips is installed): thumbnail_buffer()
  (shrink-on-load) for the large variant, then resize() for the others; one thread
  (VIPS_CONCURRENCY=1) and no operation cache, to compare like with like. Measured for
  the record only: the app does not use it.

Time: median of RUNS calls in this process, the approaches interleaved round-robin so
that a burst of load from a neighbour hits them all alike. Memory: peak RSS (VmHWM) of
a fresh child process per run that imports the approach, reads the file and makes the
variants once; "growth" is that peak minus the child's RSS just before the call.
CPU ms (time.process_time, this process's threads) is shown beside the wall time: on a
shared machine it is the steadier of the two.
"""

import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Before pyvips can be imported anywhere: one thread, like a Pillow worker.
os.environ.setdefault("VIPS_CONCURRENCY", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import ExifTags, Image, ImageChops, ImageOps, ImageStat

from bench.common import QUICK, machine, median, svg_bars, write_section
from uploads import imaging

RUNS = 3 if QUICK else 9
MEMORY_RUNS = 1 if QUICK else 3
GOAL_RATIO = 4.0  # the app at most 1/4 of the naive time
GOAL_RSS_MIB = 60


def synthetic_photo(size=(4000, 3000)):
    """Gradients plus noise, so the JPEG is photo-sized rather than trivially compressed."""
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").rotate(90).resize(size)
    smooth = Image.merge("RGB", (red, green, blue))
    noise = Image.effect_noise(size, 60).convert("RGB")
    photo = Image.blend(smooth, noise, 0.25)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def _jpeg(im):
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=imaging.JPEG_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()


def _sizes():
    return sorted(imaging.VARIANT_SIZES.items(), key=lambda item: item[1], reverse=True)


def _fit(size, long_edge):
    scale = min(1.0, long_edge / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def app_variants(data):
    """What the resize job runs. Returns [(name, (w, h), bytes)]."""
    return [(v.name, (v.width, v.height), v.data) for v in imaging.make_variants(data)]


def naive_variants(data):
    """Full decode, then every variant resized from the full-size original with LANCZOS."""
    with Image.open(io.BytesIO(data)) as im:
        original = ImageOps.exif_transpose(im).convert("RGB")
    original.info.clear()
    variants = []
    for name, long_edge in _sizes():
        resized = original.resize(_fit(original.size, long_edge), Image.Resampling.LANCZOS)
        variants.append((name, resized.size, _jpeg(resized)))
    return variants


def thumbnail_variants(data):
    """Pillow's thumbnail() for the large variant (its own draft box), then chained."""
    (name, long_edge), *rest = _sizes()
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)
        current = ImageOps.exif_transpose(im).convert("RGB")
    current.info.clear()
    variants = [(name, current.size, _jpeg(current))]
    for name, long_edge in rest:
        current = current.resize(_fit(current.size, long_edge), Image.Resampling.LANCZOS)
        variants.append((name, current.size, _jpeg(current)))
    return variants


def pyvips_variants(data):
    import pyvips

    largest = _sizes()[0][1]
    # thumbnail_buffer: shrink-on-load for JPEG, LANCZOS3 for the rest, EXIF auto-rotate.
    current = pyvips.Image.thumbnail_buffer(data, largest, size="down").copy_memory()
    variants = []
    for index, (name, long_edge) in enumerate(_sizes()):
        if index:
            scale = long_edge / max(current.width, current.height)
            current = current.resize(scale, kernel="lanczos3").copy_memory()
        out = current.jpegsave_buffer(
            Q=imaging.JPEG_QUALITY, optimize_coding=True, interlace=True, strip=True
        )
        variants.append((name, (current.width, current.height), out))
    return variants


def pyvips_available():
    try:
        import pyvips

        pyvips.cache_set_max(0)  # else a repeated call is answered from libvips' cache
        return f"pyvips {pyvips.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}"
    except Exception:  # ImportError, or OSError/pyvips.Error when libvips is missing
        return None


APPROACHES = {
    "app: make_variants": app_variants,
    "naive (full decode, each from original)": naive_variants,
    "Pillow thumbnail() (draft from the box)": thumbnail_variants,
    "pyvips thumbnail (1 thread)": pyvips_variants,
}


def vm_kib(field):
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0])


def run_child(approach, path):
    """In a fresh process: make the variants once; print peak RSS as JSON."""
    if approach.startswith("pyvips"):
        pyvips_available()
    data = Path(path).read_bytes()
    before = vm_kib("VmRSS")
    APPROACHES[approach](data)
    peak = vm_kib("VmHWM")  # a fresh process: its own high-water mark, nothing inherited
    print(json.dumps({"peak_kib": peak, "growth_kib": peak - before}))


def peak_memory(approach, path):
    command = [sys.executable, __file__, "--child", approach, str(path)]
    runs = [json.loads(subprocess.check_output(command)) for _ in range(MEMORY_RUNS)]
    return (
        median(run["peak_kib"] for run in runs) / 1024,
        median(run["growth_kib"] for run in runs) / 1024,
    )


def psnr(a, b):
    """Peak signal-to-noise ratio of two same-size RGB images, in dB (higher: closer)."""
    rms = ImageStat.Stat(ImageChops.difference(a, b)).rms
    mean_square = sum(value * value for value in rms) / len(rms)
    return float("inf") if not mean_square else 20 * math.log10(255 / math.sqrt(mean_square))


def main():
    vips = pyvips_available()
    approaches = {
        name: function
        for name, function in APPROACHES.items()
        if vips or not name.startswith("pyvips")
    }
    data = synthetic_photo()
    print(f"Input: 4000x3000 JPEG, quality 90, EXIF orientation 6, {len(data) / 2**20:.1f} MiB")
    print(f"pyvips: {vips or 'not importable (libvips missing?): skipped'}")

    outputs = {name: function(data) for name, function in approaches.items()}  # warm-up
    times = {name: [] for name in approaches}
    cpu = {name: [] for name in approaches}
    for _ in range(RUNS):
        for name, function in approaches.items():
            began, began_cpu = time.perf_counter(), time.process_time()
            function(data)
            times[name].append(time.perf_counter() - began)
            cpu[name].append(time.process_time() - began_cpu)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        path.write_bytes(data)
        memory = {name: peak_memory(name, path) for name in approaches}

    app_name, naive_name = list(approaches)[:2]
    naive_large = Image.open(io.BytesIO(outputs[naive_name][0][2])).convert("RGB")
    rows = {}
    for name in approaches:
        variants = outputs[name]
        large = Image.open(io.BytesIO(variants[0][2])).convert("RGB")
        rows[name] = {
            "ms": median(times[name]) * 1000,
            "cpu": median(cpu[name]) * 1000,
            "peak": memory[name][0],
            "growth": memory[name][1],
            "sizes": " / ".join(f"{w}x{h}" for _, (w, h), _ in variants),
            "kib": " / ".join(f"{len(out) / 1024:.0f}" for *_, out in variants),
            "psnr": psnr(large, naive_large) if large.size == naive_large.size else float("nan"),
        }
        print(f"  {name}: {rows[name]['ms']:.0f} ms, peak RSS {rows[name]['peak']:.0f} MiB")

    app, naive = rows[app_name], rows[naive_name]
    ratio = naive["ms"] / app["ms"]
    cpu_ratio = naive["cpu"] / app["cpu"]
    decoded = _draft_scale(data)
    lines = [
        "## Images: a 12 MP photo to every variant",
        "",
        f"A synthetic 4000x3000 photo-like JPEG ({len(data) / 2**20:.1f} MiB: gradients plus "
        "noise, quality 90, EXIF orientation 6) to the three variants "
        f"({', '.join(f'{n} {e} px' for n, e in _sizes())} long edge), each JPEG quality "
        f"{imaging.JPEG_QUALITY}, optimized, progressive. Time: median of {RUNS} calls per "
        "approach, interleaved. Peak RSS: the VmHWM of a fresh child process per run "
        f"(median of {MEMORY_RUNS}), whole process (Python and Pillow included); growth is "
        f"that peak minus the child's RSS just before the call. {machine()}.",
        "",
        "| approach | median ms per photo | vs naive | CPU ms | vs naive | peak RSS | growth "
        "| variant sizes | KiB | large vs naive, PSNR |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['ms']:.0f} | {naive['ms'] / row['ms']:.1f}x faster "
            f"| {row['cpu']:.0f} | {naive['cpu'] / row['cpu']:.1f}x "
            f"| {row['peak']:.0f} MiB | {row['growth']:.0f} MiB | {row['sizes']} "
            f"| {row['kib']} | {row['psnr']:.1f} dB |"
        )
    lines += [
        "",
        f"- Goal: the app at most 1/{GOAL_RATIO:g} of the naive time: **{ratio:.1f}x faster, "
        f"{'met' if ratio >= GOAL_RATIO else 'not met'}** (in CPU time {cpu_ratio:.1f}x: "
        "the process's own CPU seconds, which a neighbour's load disturbs less).",
        f"- Goal: at most {GOAL_RSS_MIB} MB peak RSS: **{app['peak']:.0f} MiB for the whole "
        f"process ({app['growth']:.0f} MiB of it for the photo), "
        f"{'met' if app['peak'] <= GOAL_RSS_MIB else 'not met'}**.",
        f"- draft(): make_variants asks for the large variant's aspect-fitted size, so the "
        f"JPEG decodes at 1/{decoded[0]} scale ({decoded[1][0]}x{decoded[1][1]}): the largest "
        "reduction that still yields a 1600 px long edge (1/4 would give 1000 px). "
        "thumbnail() derives its draft box from the square box times reducing_gap "
        f"({decoded[2][0]}x{decoded[2][1]}), which decodes this 4:3 photo at 1/{decoded[3]}: "
        "full size.",
        "- PSNR compares each approach's large variant with the naive one (same size; "
        "higher is closer). The app's lower figure comes from libjpeg's scaled IDCT (the "
        "1/2-scale decode) on this noise-heavy synthetic image, not from its resizing: "
        "the same variant sizes and encoder settings, and about the same bytes.",
    ]
    if not vips:
        lines.append("- pyvips: not measured, `import pyvips` failed (libvips is not installed).")
    chart = svg_bars(
        "12 MP photo to every variant (median ms)",
        [(name, row["ms"]) for name, row in rows.items()],
        unit="ms",
    )
    write_section("images", "\n".join(lines), chart=chart)


def _draft_scale(data):
    """(scale the app's draft() picks, decoded size, thumbnail()'s box, its scale)."""
    long_edge = _sizes()[0][1]
    with Image.open(io.BytesIO(data)) as im:
        full = im.size
        im.draft("RGB", _fit(full, long_edge))
        app = (full[0] // im.size[0], im.size)
    with Image.open(io.BytesIO(data)) as im:
        box = (long_edge * 2, long_edge * 2)  # thumbnail()'s default reducing_gap is 2.0
        im.draft(None, box)
        return (*app, box, full[0] // im.size[0])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        run_child(*sys.argv[2:4])
    else:
        main()
