"""What every benchmark here shares: a private Redis, percentiles, result sections, charts.

Each script measures one path and writes its section (Markdown, plus an SVG chart) to
bench/results/; `python bench/build_readme.py` assembles bench/README.md from them.
Figures are compared as ratios measured in the same run: the machines are shared and
noisy, so absolute times vary from run to run and ratios do not.
"""

import atexit
import contextlib
import html
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUICK = os.environ.get("BENCH_QUICK") == "1"  # `make bench-quick`: smaller runs

sys.path.insert(0, str(ROOT))


def private_redis():
    """A started redis-server on a free loopback port, in a temporary directory."""
    from config.redis_server import RedisServer

    server = RedisServer(tempfile.mkdtemp(prefix="bench-redis-"))
    server.start()
    atexit.register(shutil.rmtree, server.directory, ignore_errors=True)
    return server


def wait_until(n, count, processes, *, what, stall_seconds=120, poll_seconds=0.2):
    """Poll count() until it reaches n; the clock starts at the call. Returns (total s,
    (s until count() was first above 0, the count then)). Gives up, with the processes'
    log tails, when nothing moved for `stall_seconds` or one of them exited."""
    began = time.perf_counter()
    first, last_count, last_progress = None, 0, began
    while True:
        counted = count()
        now = time.perf_counter()
        if counted >= n:
            return now - began, first or (now - began, 0)
        if counted and first is None:
            first = (now - began, counted)
        if counted > last_count:
            last_count, last_progress = counted, now
        elif now - last_progress > stall_seconds:
            raise RuntimeError(
                f"no {what} for {stall_seconds} s ({counted}/{n})\n{processes.tails()}"
            )
        if dead := processes.dead():
            raise RuntimeError(f"process exited: {dead} ({counted}/{n})\n{processes.tails()}")
        time.sleep(poll_seconds)


def percentile(values, p):
    """The p-th percentile (0-100) of `values`, by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def median(values):
    return statistics.median(values)


def machine():
    """One line about where the figures were measured."""
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPUs, {system}, Python {platform.python_version()}"


def write_section(name, markdown, chart=None):
    """Save a result section, and its chart (an svg_bars() string) beside it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    if chart:
        (RESULTS / f"{name}.svg").write_text(chart)
        markdown = markdown.rstrip() + f"\n\n![{name}](results/{name}.svg)\n"
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    print(markdown)


def svg_bars(title, bars, *, unit, width=640):
    """A horizontal bar chart: `bars` are (label, value); the longest bar is the largest."""
    row, left, top = 28, 220, 40
    height = top + row * len(bars) + 20
    largest = max((value for _, value in bars), default=1) or 1
    scale = (width - left - 90) / largest
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{html.escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(bars):
        y = top + index * row
        parts += [
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>',
            f'<rect x="{left}" y="{y + 2}" width="{max(1, value * scale):.1f}" height="18" '
            f'fill="{"#2b6cb0" if index == 0 else "#a0aec0"}"/>',
            f'<text x="{left + max(1, value * scale) + 6:.1f}" y="{y + 15}">'
            f"{value:,.1f} {html.escape(unit)}</text>",
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


class Processes:
    """Children in sessions of their own, output to log files; stopped by process group."""

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.children = []  # (name, Popen, log path)

    def start(self, name, argv, env):
        log = self.log_dir / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its PID is its process group's
            )
        self.children.append((name, process, log))
        return process

    def dead(self):
        return [(name, p.returncode) for name, p, _ in self.children if p.poll() is not None]

    def tails(self, lines=20):
        parts = []
        for name, _, log in self.children:
            text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
            parts.append(f"--- {name} ({log}) ---\n" + "\n".join(text))
        return "\n".join(parts)

    def stop(self, timeout=20):
        """SIGTERM to every group (workers finish their job), SIGKILL what is left."""
        for _, process, _ in reversed(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, process, _ in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for name, process, _ in self.children:
            if process.poll() is None or _group_exists(process.pid):
                print(f"  {name} (pid {process.pid}) still running: SIGKILL to its group")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.children.clear()


def _group_exists(pgid):
    for _ in range(2):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        time.sleep(0.5)  # a member may be exiting just now
    return True
