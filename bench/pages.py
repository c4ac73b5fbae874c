"""Job status polling, and the staff pages and gallery over a large job table.

Run: .venv/bin/python bench/pages.py          (BENCH_QUICK=1: smaller tables, shorter runs)

Same stack as bench/requests.py (private redis-server, temporary DATA_DIR SQLite,
`gunicorn config.wsgi -w 2`, bench.bench_settings), on loopback, stopped by PID.

polling: 100 clients, each logged in as the owner of one job (a session per user),
poll /jobs/<uuid>.json for a fixed time; the same 100 clients then GET the trivial view.

pages: /ops/, /ops/failed/ and /photos/ (the gallery) at two sizes, seeded with
bulk_create: JobRecord rows (a tenth of them the resize and publish jobs of the staff
user's photos), and failed jobs in RQ's failed registry of the "default" queue, written
directly into the private Redis as RQ writes them (the job hash, a failure Result in its
results stream, and the registry ZADD), each with its failed JobRecord row. Per page:
SQL queries (CaptureQueriesContext) and Redis commands (INFO commandstats delta, the
INFO calls themselves left out) and Redis round trips (calls to redis-py's
send_packed_command: a pipeline is one) for one request through django.test.Client
in-process, as the staff user; then requests/s and latency over HTTP against the trivial
view, with 10 clients.
"""

import os
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import time  # noqa: E402
import uuid  # noqa: E402
from datetime import timedelta  # noqa: E402

from bench import loadgen  # noqa: E402
from bench.common import QUICK, machine, svg_bars, write_section  # noqa: E402
from bench.requests import Stack, bench_users, session_cookie, trivial_run  # noqa: E402

POLL_CLIENTS = 100
PAGE_CLIENTS = 10
SIZES = [(1_000, 100), (10_000, 1_000)] if QUICK else [(10_000, 1_000), (100_000, 10_000)]
POLL_SECONDS = 3 if QUICK else 15
PAGE_SECONDS = 3 if QUICK else 10
PAGES = {"/ops/": "ops dashboard", "/ops/failed/": "failed jobs", "/photos/": "gallery"}
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/jobs/tracking.py", line 80, in run\n'
    "    return func(*args, **kwargs)\n"
    "smtplib.SMTPServerDisconnected: Connection unexpectedly closed\n"
)


# --- seeding ----------------------------------------------------------------------------


class Seeder:
    """Grows the tables to a given size; each call adds only what is missing."""

    def __init__(self, staff, owners):
        self.staff = staff
        self.owners = owners
        self.jobs = 0
        self.failed = 0
        self.photos = 0

    def grow(self, jobs, failed):
        from jobs.models import JobRecord

        photos = jobs // 20  # each with two job rows: a tenth of the rows
        self._photos(photos - self.photos)
        self._failed(failed - self.failed)
        rest = jobs - JobRecord.objects.count()
        self._jobs(rest)
        self.jobs = JobRecord.objects.count()

    def _jobs(self, count, batch=5000):
        from jobs.models import JobRecord

        now = time.time()
        statuses = ["finished"] * 8 + ["queued", "started"]
        made = 0
        while made < count:
            n = min(batch, count - made)
            JobRecord.objects.bulk_create(
                JobRecord(
                    kind="send_welcome_email",
                    owner=self.owners[(made + i) % len(self.owners)],
                    queue="high",
                    func="accounts.tasks.send_welcome_email",
                    args=[made + i],
                    status=statuses[(made + i) % len(statuses)],
                    progress=100,
                )
                for i in range(n)
            )
            made += n
        return time.time() - now

    def _photos(self, count, batch=2000):
        from jobs.models import JobRecord
        from uploads.models import Photo

        made = 0
        while made < count:
            n = min(batch, count - made)
            jobs = [
                JobRecord(
                    kind=kind,
                    owner=self.staff,
                    queue="default",
                    func=f"uploads.tasks.{kind}",
                    args=[],
                    status="finished",
                    progress=100,
                )
                for _ in range(n)
                for kind in ("resize_photo", "publish_photo")
            ]
            JobRecord.objects.bulk_create(jobs)
            Photo.objects.bulk_create(
                Photo(
                    owner=self.staff,
                    batch=uuid.uuid4(),
                    original_name=f"photo-{made + i}.jpg",
                    original_format="JPEG",
                    original_ext="jpg",
                    width=4000,
                    height=3000,
                    size_bytes=5_000_000,
                    variants={
                        "thumb": {
                            "width": 320,
                            "height": 240,
                            "ext": "jpg",
                            "content_type": "image/jpeg",
                        }
                    },
                    resize_job=jobs[2 * i],
                    publish_job=jobs[2 * i + 1],
                )
                for i in range(n)
            )
            made += n
        self.photos += count

    def _failed(self, count, batch=1000):
        import django_rq
        from django.utils import timezone
        from rq.job import Job, JobStatus
        from rq.results import Result

        from jobs.models import JobRecord

        queue = django_rq.get_queue("default")
        redis = queue.connection
        made = 0
        while made < count:
            n = min(batch, count - made)
            records = [
                JobRecord(
                    kind="resize_photo",
                    owner=self.owners[(made + i) % len(self.owners)],
                    queue="default",
                    func="uploads.tasks.resize_photo",
                    args=[str(uuid.uuid4())],
                    status="failed",
                    attempts=3,
                    max_attempts=3,
                    error="SMTPServerDisconnected: Connection unexpectedly closed",
                )
                for i in range(n)
            ]
            JobRecord.objects.bulk_create(records)
            with redis.pipeline(transaction=False) as pipe:
                for record in records:
                    job = Job.create(
                        func=record.func,
                        args=record.args,
                        id=str(record.id),
                        connection=redis,
                        origin="default",
                        meta={"kind": record.kind},
                        failure_ttl=7 * 24 * 3600,
                    )
                    job.set_status(JobStatus.FAILED, pipeline=pipe)
                    job.ended_at = timezone.now() - timedelta(seconds=made)
                    job.save(pipeline=pipe)
                    queue.failed_job_registry.add(job, ttl=7 * 24 * 3600, pipeline=pipe)
                    Result.create_failure(
                        job, ttl=7 * 24 * 3600, exc_string=TRACEBACK, pipeline=pipe
                    )
                pipe.execute()
            made += n
        self.failed += count


# --- counting ---------------------------------------------------------------------------


class RedisCounter:
    """Round trips (send_packed_command calls) of this process, while active."""

    def __init__(self):
        import redis.connection

        self.calls = 0
        self.active = False
        original = redis.connection.AbstractConnection.send_packed_command
        counter = self

        def counted(conn, *args, **kwargs):
            if counter.active:
                counter.calls += 1
            return original(conn, *args, **kwargs)

        redis.connection.AbstractConnection.send_packed_command = counted


def commands_total(client):
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")


def count_page(path, client, redis_client, counter):
    """(status, SQL queries, Redis commands, Redis round trips) of one GET in-process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm: the first request of a process fills caches
    before = commands_total(redis_client)
    counter.calls, counter.active = 0, True
    try:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
    finally:
        counter.active = False
    commands = commands_total(redis_client) - before
    return response.status_code, len(queries), commands, counter.calls


def page_run(port, path, cookie, clients, seconds):
    return loadgen.run(
        "127.0.0.1",
        port,
        clients=clients,
        make_request=lambda c, i: ("GET", path, None, {"Cookie": cookie}),
        duration=seconds,
        ok=lambda status: status == 200,
    )


# --- the run ----------------------------------------------------------------------------


def main():
    with Stack() as stack:
        import redis as redis_py
        from django.test import Client

        from jobs.models import JobRecord

        counter = RedisCounter()
        redis_client = redis_py.Redis.from_url(stack.redis.url)
        (staff,) = bench_users("staff", 1, is_staff=True, is_superuser=True)
        owners = bench_users("owner", 1000)
        pollers = owners[:POLL_CLIENTS]
        polled = JobRecord.objects.bulk_create(
            JobRecord(
                kind="resize_photo",
                owner=user,
                queue="default",
                func="uploads.tasks.resize_photo",
                args=[],
                status="started",
                progress=40,
                stage="Resizing: large done (1/3)",
            )
            for user in pollers
        )
        poll_cookies = [session_cookie(user) for user in pollers]
        staff_cookie = session_cookie(staff)
        client = Client()
        client.force_login(staff)
        seeder = Seeder(staff, owners)

        sizes = []
        for jobs, failed in SIZES:
            began = time.perf_counter()
            seeder.grow(jobs, failed)
            print(
                f"seeded {seeder.jobs:,} job rows, {seeder.failed:,} failed jobs, "
                f"{seeder.photos:,} photos in {time.perf_counter() - began:.0f} s",
                flush=True,
            )
            counts = {path: count_page(path, client, redis_client, counter) for path in PAGES}
            for path, (status, sql, commands, trips) in counts.items():
                print(
                    f"  {path}: {status}, {sql} SQL queries, {commands} Redis commands, "
                    f"{trips} round trips",
                    flush=True,
                )
            port = stack.start_gunicorn()
            try:
                http = {"trivial": trivial_run(port, PAGE_CLIENTS, duration=PAGE_SECONDS)}
                print(f"  trivial: {http['trivial'].summary()}", flush=True)
                for path in PAGES:
                    http[path] = page_run(port, path, staff_cookie, PAGE_CLIENTS, PAGE_SECONDS)
                    print(f"  {path}: {http[path].summary()}", flush=True)
                    if http[path].error_samples:
                        print("    e.g.", http[path].error_samples[:2])
                if (jobs, failed) == SIZES[-1]:
                    polling = poll(port, polled, poll_cookies)
            finally:
                stack.stop_gunicorn()
            sizes.append(
                {
                    "jobs": seeder.jobs,
                    "failed": seeder.failed,
                    "photos": seeder.photos,
                    "counts": counts,
                    "http": http,
                }
            )
        report_polling(polling)
        report_pages(sizes)


def poll(port, records, cookies):
    paths = [f"/jobs/{record.id}.json" for record in records]
    trivial = trivial_run(port, POLL_CLIENTS, duration=POLL_SECONDS)
    status = loadgen.run(
        "127.0.0.1",
        port,
        clients=POLL_CLIENTS,
        make_request=lambda c, i: ("GET", paths[c], None, {"Cookie": cookies[c]}),
        duration=POLL_SECONDS,
        ok=lambda s: s == 200,
    )
    trivial_after = trivial_run(port, POLL_CLIENTS, duration=POLL_SECONDS)
    print(
        f"  polling trivial: {trivial.summary()}\n  polling status: {status.summary()}\n"
        f"  polling trivial again: {trivial_after.summary()}",
        flush=True,
    )
    if status.error_samples:
        print("    e.g.", status.error_samples[:2])
    return trivial, status, trivial_after


def ms(value):
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def report_polling(polling):
    trivial, status, trivial_after = polling
    base = (trivial.rps + trivial_after.rps) / 2
    ratio = status.rps / base
    lines = [
        "## Polling /jobs/<uuid>.json (bench/pages.py)",
        "",
        "```",
        ".venv/bin/python bench/pages.py" + ("   # BENCH_QUICK=1" if QUICK else ""),
        "```",
        "",
        f"gunicorn `config.wsgi -w 2` (sync workers), bench.bench_settings (DEBUG off, SQLite "
        f"WAL, private redis-server), loopback; load generator bench/loadgen.py on the same "
        f"{machine()}. {POLL_CLIENTS} closed-loop clients for {POLL_SECONDS} s each run; each "
        "polling client is logged in (its own session cookie) as the owner of the job it polls, "
        f"in a table of {SIZES[-1][0]:,} job rows. The trivial view was run before and after "
        "the polling run; the ratio is to their mean.",
        "",
        "| run | requests/s | p50 | p99 | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, r in (
        ("/jobs/<uuid>.json", status),
        ("trivial view, before", trivial),
        ("trivial view, after", trivial_after),
    ):
        lines.append(f"| {label} | {r.rps:,.0f} | {ms(r.p50_ms)} | {ms(r.p99_ms)} | {r.errors} |")
    met = ratio >= 0.8 and status.errors == 0
    lines += [
        "",
        f"Goal: at least 0.8x the trivial view's requests/s with 0 errors: {ratio:.2f}x, "
        f"{status.errors} errors: {'met' if met else 'NOT met'}.",
    ]
    chart = svg_bars(
        f"requests/s, {POLL_CLIENTS} clients",
        [
            ("/jobs/<uuid>.json", status.rps),
            ("trivial (before)", trivial.rps),
            ("trivial (after)", trivial_after.rps),
        ],
        unit="req/s",
    )
    write_section("polling", "\n".join(lines), chart=chart)


def report_pages(sizes):
    small, large = sizes
    lines = [
        "## Staff pages and the gallery over a large job table (bench/pages.py)",
        "",
        "```",
        ".venv/bin/python bench/pages.py" + ("   # BENCH_QUICK=1" if QUICK else ""),
        "```",
        "",
        "Seeded with bulk_create: JobRecord rows (a tenth of them the resize and publish jobs "
        "of the staff user's photos), and failed jobs written into the private Redis as RQ "
        "writes them (job hash, failure Result, ZADD to rq:failed:default), each with its "
        "failed row. Counts are for one GET through django.test.Client in-process as the "
        "staff user, after a warm-up GET: SQL queries (CaptureQueriesContext), Redis "
        "commands (INFO commandstats delta) and Redis round trips (redis-py "
        "send_packed_command calls; a pipeline is one). HTTP: gunicorn -w 2, "
        f"{PAGE_CLIENTS} closed-loop clients for {PAGE_SECONDS} s per page, staff session "
        f"cookie; {machine()}.",
        "",
        "| page | size (job rows / failed / photos) | SQL queries | Redis commands | "
        "Redis round trips | requests/s | p50 | p99 | p50 / trivial p50 | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        trivial = size["http"]["trivial"]
        tag = f"{size['jobs']:,} / {size['failed']:,} / {size['photos']:,}"
        lines.append(
            f"| trivial view | {tag} | | | | {trivial.rps:,.0f} | {ms(trivial.p50_ms)} "
            f"| {ms(trivial.p99_ms)} | 1.00 | {trivial.errors} |"
        )
        for path, label in PAGES.items():
            _, sql, commands, trips = size["counts"][path]
            r = size["http"][path]
            lines.append(
                f"| {label} `{path}` | {tag} | {sql} | {commands} | {trips} | {r.rps:,.0f} | "
                f"{ms(r.p50_ms)} | {ms(r.p99_ms)} | {r.p50_ms / trivial.p50_ms:.2f} | {r.errors} |"
            )
    lines += [
        "",
        "Goals: each page under 3x the trivial view's latency (p50, same run, "
        "largest size), and queries and round trips bounded (the same at both sizes):",
        "",
    ]
    for path, label in PAGES.items():
        r, trivial = large["http"][path], large["http"]["trivial"]
        ratio = r.p50_ms / trivial.p50_ms
        s_counts, l_counts = small["counts"][path][1:], large["counts"][path][1:]
        bounded = s_counts == l_counts
        lines.append(
            f"- {label}: {ratio:.2f}x the trivial view ({'met' if ratio < 3 else 'NOT met'}); "
            f"SQL / Redis commands / round trips {'/'.join(map(str, s_counts))} at "
            f"{small['jobs']:,} rows vs {'/'.join(map(str, l_counts))} at {large['jobs']:,} "
            f"({'bounded: met' if bounded else 'they grow: NOT met'})."
        )
    bars = [("trivial view", large["http"]["trivial"].rps)] + [
        (label, large["http"][path].rps) for path, label in PAGES.items()
    ]
    chart = svg_bars(
        f"requests/s at {large['jobs']:,} job rows, {PAGE_CLIENTS} clients", bars, unit="req/s"
    )
    write_section("pages", "\n".join(lines), chart=chart)


if __name__ == "__main__":
    os.environ.setdefault("BENCH_DEBUG", "0")
    main()
