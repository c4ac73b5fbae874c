"""Superseded by bench/images.py; kept so that its command and imports still work.

Run: .venv/bin/python bench/imaging_bench.py     (the same as bench/images.py)

bench/requests.py imports synthetic_photo and naive_make_variants from here.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.images import main, naive_variants, synthetic_photo  # noqa: F401


def naive_make_variants(data):
    """Full decode, then every variant resized from the full-size original with LANCZOS."""
    return [(name, out, size) for name, size, out in naive_variants(data)]


if __name__ == "__main__":
    main()
