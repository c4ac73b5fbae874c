"""Assemble bench/README.md from the sections the benchmarks wrote to bench/results/."""

import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, ROOT, machine

ORDER = ["throughput", "requests", "images", "end_to_end", "fan_out", "polling", "pages"]

HEADER = """# Benchmarks

`make bench` runs every script here and rebuilds this page; `make bench-quick` does the same
with smaller runs. Each script starts what it needs on loopback (a private redis-server,
workers, a web server, an SMTP sink) and stops it afterwards. Nothing here is a timed
assertion in the test suite: the machines are shared, so every comparison below is a ratio
measured in one run. `docs/performance.md` explains where the time goes.

Last run: {date} on {machine}.
"""


def main():
    sections = [RESULTS / f"{name}.md" for name in ORDER]
    sections += sorted(path for path in RESULTS.glob("*.md") if path not in sections)
    body = [HEADER.format(date=datetime.date.today().isoformat(), machine=machine())]
    body += [path.read_text() for path in sections if path.exists()]
    profiles = sorted((ROOT / "bench" / "profiles").glob("*.txt"))
    if profiles:
        body.append(
            "## Profiles\n\n`bench/profiles.py` writes a cProfile of each path whose goal is "
            "not met, and of the worker (docs/performance.md reads them):\n\n"
            + "".join(
                f"- [{path.stem}](profiles/{path.name}): "
                f"{path.read_text().splitlines()[0].split(': ', 1)[1]}\n"
                for path in profiles
            )
        )
    (ROOT / "bench" / "README.md").write_text("\n".join(body))


if __name__ == "__main__":
    main()
