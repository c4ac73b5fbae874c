"""A cProfile of each path whose goal in docs/performance.md is not met, and of the worker.

Run: .venv/bin/python bench/profiles.py [--only NAME,...]      (BENCH_QUICK=1: smaller runs)

Each profile runs the app's own code in this process, against a private redis-server and
SQLite in a temporary DATA_DIR, with bench.bench_settings, and writes the 25 functions
that took the most time, inside their calls and on their own, to
bench/profiles/<name>.txt:

- worker: a jobs.worker.SimpleWorker draining tracked no-op jobs (bench.tasks.noop),
  after measuring the CPU and Redis round trips per job of it and of RQ's own SimpleWorker;
- images: uploads.imaging.make_variants on bench/images.py's 12 MP JPEG;
- fan_out: accounts.services.digests_fan_out for a few thousand people;
- digest_send: a SimpleWorker sending the digests that queued, to Django's in-memory mail
  backend (the bench's SMTP sink is a process of its own);
- polling: GET /jobs/<uuid>.json through Django's test client, as a signed-in owner;
- ops_pages: GET /ops/ and /ops/failed/ as staff, with job rows and a failed set;
- signup: POST /accounts/signup/ with the app's own password hasher (PBKDF2).

cProfile adds its own cost to every call, so read these for where the time goes, not for
how long it takes: bench/README.md has the timings.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "profiles"
TOP = 25

sys.path.insert(0, str(ROOT))
from bench.common import QUICK, private_redis  # noqa: E402


def profiled(name, what, run, notes=()):
    """Profile run(), and write the profile with a line saying what it measured."""
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    run()
    profile.disable()
    took = time.perf_counter() - began
    sections = []
    for order, title in (("cumulative", "time inside each call"), ("tottime", "own time")):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(TOP)
        sections.append(f"## by {title} ({order})\n\n{_short_paths(text.getvalue()).strip()}")
    OUT.mkdir(parents=True, exist_ok=True)
    body = f"# {name}: {what}\n# {took:.2f} s under cProfile (python bench/profiles.py)\n"
    body += "".join(f"# {note}\n" for note in notes) + "\n"
    (OUT / f"{name}.txt").write_text(body + "\n\n".join(sections) + "\n")
    print(f"{name}: {what}, {took:.2f} s -> bench/profiles/{name}.txt")


def _short_paths(text):
    """File names relative to site-packages, the standard library or the repository."""
    for directory in sorted({*sys.path, str(ROOT)}, key=len, reverse=True):
        if directory and directory.startswith("/"):
            text = text.replace(directory.rstrip("/") + "/", "")
    return text


def burst_worker(worker_class):
    """A worker of `worker_class` on the Procfile's queues, in their order."""
    from django_rq import get_queue

    queues = [get_queue(name) for name in ("high", "default", "low")]
    return worker_class(queues, connection=queues[0].connection)


def worker_cost(worker_class, jobs):
    """(ms of CPU, Redis round trips) per tracked no-op job for one in-process burst worker."""
    from redis.connection import Connection

    from bench.tasks import noop

    for i in range(jobs):
        noop.enqueue(i)
    worker = burst_worker(worker_class)
    sent = [0]
    send = Connection.send_packed_command

    def counted(self, command, check_health=True):
        sent[0] += 1
        return send(self, command, check_health)

    Connection.send_packed_command = counted
    try:
        began = time.process_time()
        worker.work(burst=True, logging_level="WARNING")
        cpu = time.process_time() - began
    finally:
        Connection.send_packed_command = send
    return cpu / jobs * 1000, sent[0] / jobs


def profile_worker():
    import rq

    from bench.tasks import noop
    from jobs.worker import SimpleWorker

    jobs = 500 if QUICK else 2000
    costs = [
        f"{name}: {ms:.2f} ms of CPU and {trips:.1f} Redis round trips per job"
        for name, (ms, trips) in (
            ("RQ's own rq.SimpleWorker", worker_cost(rq.SimpleWorker, jobs)),
            ("the app's jobs.worker.SimpleWorker", worker_cost(SimpleWorker, jobs)),
        )
    ]
    for i in range(jobs):
        noop.enqueue(i)
    worker = burst_worker(SimpleWorker)
    profiled(
        "worker",
        f"one SimpleWorker draining {jobs:,} tracked no-op jobs",
        lambda: worker.work(burst=True, logging_level="WARNING"),
        notes=[f"without the profiler, {jobs:,} jobs each, one after the other:", *costs],
    )


def profile_images():
    from bench.images import synthetic_photo
    from uploads import imaging

    data = synthetic_photo()
    photos = 2 if QUICK else 5
    profiled(
        "images",
        f"make_variants on a 12 MP JPEG, {photos} times",
        lambda: [imaging.make_variants(data) for _ in range(photos)],
    )


def profile_fan_out():
    from accounts.services import digests_fan_out
    from bench.fan_out import create_people

    people = 1000 if QUICK else 5000
    create_people(people)
    profiled(
        "fan_out",
        f"digests_fan_out for {people:,} people (rows and pushes)",
        digests_fan_out,
    )


def profile_digest_send():
    from django.conf import settings
    from django.core import mail
    from django_rq import get_queue

    from accounts.services import digests_fan_out
    from bench.fan_out import create_people
    from jobs.worker import SimpleWorker

    if not get_queue("low").count:  # the fan_out profile, if it ran, queued them already
        create_people(200 if QUICK else 1000)
        digests_fan_out()
    people = get_queue("low").count
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    worker = burst_worker(SimpleWorker)
    profiled(
        "digest_send",
        f"one SimpleWorker sending {people:,} digests (Django's in-memory mail backend, "
        "so without the SMTP connection each email opens)",
        lambda: worker.work(burst=True, logging_level="WARNING"),
    )
    assert len(mail.outbox) >= people, len(mail.outbox)


def _client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def profile_polling():
    from django.contrib.auth import get_user_model

    from bench.tasks import noop

    owner = get_user_model().objects.create_user("poller", password="x")
    record = noop.enqueue(1, owner=owner)
    client = _client_for(owner)
    url = f"/jobs/{record.id}.json"
    requests = 300 if QUICK else 1500

    def poll():
        for _ in range(requests):
            assert client.get(url).status_code == 200

    profiled("polling", f"{requests:,} GETs of {url.replace(str(record.id), '<uuid>')}", poll)


def profile_ops_pages():
    from django.contrib.auth import get_user_model

    from bench.pages import Seeder

    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "x")
    owners = [get_user_model().objects.create_user(f"owner{i}", password="x") for i in range(20)]
    jobs, failed = (2_000, 200) if QUICK else (20_000, 2_000)
    Seeder(staff, owners).grow(jobs, failed)
    client = _client_for(staff)
    requests = 10 if QUICK else 40

    def pages():
        for _ in range(requests):
            for path in ("/ops/", "/ops/failed/"):
                assert client.get(path).status_code == 200

    profiled(
        "ops_pages",
        f"{requests} GETs each of /ops/ and /ops/failed/ with {jobs:,} job rows and "
        f"{failed:,} failed jobs",
        pages,
    )


def profile_signup():
    from django.test import Client

    signups = 3 if QUICK else 10

    def sign_up():
        for _ in range(signups):
            name = f"new{uuid.uuid4().hex[:8]}"
            response = Client().post(
                "/accounts/signup/",
                {
                    "username": name,
                    "email": f"{name}@example.com",
                    "password1": "a long and lovely passphrase 42",
                    "password2": "a long and lovely passphrase 42",
                },
            )
            assert response.status_code == 302, response.status_code

    profiled("signup", f"{signups} signups with the app's password hasher", sign_up)


PROFILES = {
    "worker": profile_worker,
    "images": profile_images,
    "fan_out": profile_fan_out,
    "digest_send": profile_digest_send,
    "polling": profile_polling,
    "ops_pages": profile_ops_pages,
    "signup": profile_signup,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PROFILES))
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(PROFILES)
    if unknown:
        parser.error(f"unknown profiles: {', '.join(sorted(unknown))}")

    server = private_redis()
    try:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="bench.bench_settings",
            REDIS_URL=server.url,
            DATA_DIR=tempfile.mkdtemp(prefix="bench-profiles-"),
            LOG_LEVEL="WARNING",
            EMAIL_RATE_LIMIT="1000000",  # as bench/fan_out.py: the limiter, not its limit
        )
        os.environ.pop("DATABASE_URL", None)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        for name in chosen:
            PROFILES[name]()
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
