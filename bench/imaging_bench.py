"""Time and memory of make_variants() on a 12-megapixel photo, against a naive version.

Run from the project root: .venv/bin/python bench/imaging_bench.py

The naive version decodes the JPEG at full size and resizes every variant from the full
original. Peak memory is measured as the growth of peak RSS in a fresh child process per
run: tracemalloc is shown too, but it only sees Python's heap, not Pillow's pixel buffers.
"""

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from PIL import ExifTags, Image, ImageOps

# Run as a script, so the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from uploads import imaging

RUNS = 5


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


def naive_make_variants(data):
    """Full decode, then every variant resized from the full-size original with LANCZOS."""
    with Image.open(io.BytesIO(data)) as im:
        original = ImageOps.exif_transpose(im).convert("RGB")
    original.info.clear()
    variants = []
    for name, long_edge in imaging.VARIANT_SIZES.items():
        scale = min(1.0, long_edge / max(original.size))
        size = (round(original.width * scale), round(original.height * scale))
        buffer = io.BytesIO()
        resized = original.resize(size, Image.Resampling.LANCZOS)
        resized.save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
        variants.append((name, buffer.getvalue(), size))
    return variants


APPROACHES = {
    "make_variants (draft + chained)": imaging.make_variants,
    "naive (full decode, each from original)": naive_make_variants,
}


def peak_rss_kib():
    # VmHWM, not getrusage(): a child started by subprocess inherits its parent's ru_maxrss.
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


def run_child(approach, path):
    """Run one approach once in this fresh process; print its memory use as JSON."""
    data = Path(path).read_bytes()
    before = peak_rss_kib()
    tracemalloc.start()
    APPROACHES[approach](data)
    _, traced_peak = tracemalloc.get_traced_memory()
    after = peak_rss_kib()
    print(json.dumps({"rss_kib": after - before, "traced_bytes": traced_peak}))


def peak_memory(approach, path):
    command = [sys.executable, __file__, "--child", approach, str(path)]
    runs = [json.loads(subprocess.check_output(command)) for _ in range(RUNS)]
    return (
        statistics.median(run["rss_kib"] for run in runs) / 1024,
        statistics.median(run["traced_bytes"] for run in runs) / 2**20,
    )


def median_seconds(function, data):
    function(data)  # warm-up: imports, codec set-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        function(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    data = synthetic_photo()
    print(f"Input: 4000x3000 JPEG, quality 90, EXIF orientation 6, {len(data) / 2**20:.1f} MiB")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        path.write_bytes(data)
        results = {
            name: (median_seconds(function, data), *peak_memory(name, path))
            for name, function in APPROACHES.items()
        }

    print(f"\n| approach | median time ({RUNS} runs) | peak RSS growth | tracemalloc peak |")
    print("|---|---:|---:|---:|")
    for name, (seconds, rss, traced) in results.items():
        print(f"| {name} | {seconds * 1000:.0f} ms | {rss:.0f} MiB | {traced:.1f} MiB |")
    (ours, our_rss, _), (naive, naive_rss, _) = results.values()
    print(
        f"\nmake_variants is {naive / ours:.1f}x faster; its peak RSS growth is "
        f"{our_rss / naive_rss:.0%} of the naive version's."
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        run_child(*sys.argv[2:4])
    else:
        main()
