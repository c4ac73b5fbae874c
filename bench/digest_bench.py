"""Superseded by bench/fan_out.py; kept so that its command still works.

Run: .venv/bin/python bench/digest_bench.py [users]     (bench/fan_out.py --users N)

bench/fan_out.py times the same digests_fan_out() and the same naive loop (one
.enqueue() per person, on up to 1,000 people), then sends every digest through real
workers to a local SMTP sink.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fan_out import USERS, main

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else USERS)
