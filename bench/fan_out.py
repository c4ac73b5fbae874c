"""The daily digest for 10,000 people: the fan-out, then every email sent.

Run: .venv/bin/python bench/fan_out.py [--users N]     (BENCH_QUICK=1: 1,000 people)

On loopback, stopped by process group afterwards: a private redis-server, SQLite in a
temporary DATA_DIR (`manage.py migrate`), and an SMTP sink (tests/chaos/smtp_server.py,
aiosmtpd; it appends one JSON line per accepted message). N people, each with a photo
added since they joined, are created with bulk_create.

1. Fan-out: accounts.services.digests_fan_out() in this process, as the send_digests job
   runs it (autocommit: each batch of DIGEST_BATCH_SIZE rows is pushed to Redis in one
   pipeline as soon as it is recorded). Timed from the call until it returns, when every
   per-person job is queued (checked: N rows queued, N jobs in RQ's `low` queue).
2. Sending: then the workers start, the Procfile's `worker:` line twice (as `make run`
   starts them), with EMAIL_URL=smtp://127.0.0.1:<sink>. Timed from their start until
   the sink has received N messages (polled every 0.2 s), so it includes their start-up.
   EMAIL_RATE_LIMIT is raised to 1,000,000 per 60 s for the bench: at the default (100
   per 60 s) 10,000 digests would take 100 minutes by design.
3. For comparison, a naive loop: one send_digest_email.enqueue() (a row, a transaction
   and a Redis round trip) per person, for min(N, 1,000) people, with the workers stopped.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUICK, ROOT, Processes, machine, private_redis, svg_bars, write_section
from bench.end_to_end import free_port, migrate, stack_env, start_workers, wait_until

USERS = 1_000 if QUICK else 10_000
NAIVE_USERS = 1_000
GOAL_QUEUED_PER_S = 3_000
EMAIL_RATE_LIMIT = 1_000_000
STALL_SECONDS = 120  # no email received for this long: give up
DAY = "2026-12-01"


def sent_messages(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def create_people(users):
    from django.contrib.auth import get_user_model

    from uploads.models import Photo

    User = get_user_model()
    people = User.objects.bulk_create(
        [User(username=f"user{i}", email=f"user{i}@example.com") for i in range(users)],
        batch_size=2000,
    )
    Photo.objects.bulk_create(
        [
            Photo(
                owner=person,
                batch=uuid.uuid4(),
                original_name="p.jpg",
                original_format="JPEG",
                original_ext="jpg",
                width=1,
                height=1,
                size_bytes=1,
            )
            for person in people
        ],
        batch_size=2000,
    )
    return people


def wait_for_emails(out, n, processes):
    """Seconds from now until the sink holds n messages; (total, (first at, count then))."""
    from bench.common import wait_until

    def received():
        return len(out.read_text().splitlines()) if out.exists() else 0

    return wait_until(n, received, processes, what="email", stall_seconds=STALL_SECONDS)


def main(users):
    work = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    server = private_redis()
    processes = Processes(work)
    sink_out = work / "mail.jsonl"
    try:
        sink_port = free_port()
        env = stack_env(
            server.url,
            work / "data",
            EMAIL_URL=f"smtp://127.0.0.1:{sink_port}",
            EMAIL_RATE_LIMIT=str(EMAIL_RATE_LIMIT),
            EMAIL_RATE_WINDOW_SECONDS="60",
        )
        processes.start(
            "smtp-sink",
            [
                sys.executable,
                str(ROOT / "tests" / "chaos" / "smtp_server.py"),
                "--port",
                str(sink_port),
                "--out",
                str(sink_out),
            ],
            env,
        )
        migrate(env)
        os.environ.update({**env, "LOG_LEVEL": "WARNING"})
        import django

        django.setup()
        import django_rq
        from django.conf import settings

        from accounts.services import digests_fan_out
        from accounts.tasks import send_digest_email
        from jobs.models import JobRecord

        people = create_people(users)
        wait_until(
            lambda: (processes.log_dir / "smtp-sink.log").read_text().strip(),
            30,
            "SMTP sink up",
            processes,
        )

        print(f"fan-out to {users:,} people")
        began = time.perf_counter()
        result = digests_fan_out(day=DAY)
        fan_out_s = time.perf_counter() - began
        digests = JobRecord.objects.filter(kind=send_digest_email.name)
        queued = digests.filter(status=JobRecord.Status.QUEUED).count()
        in_redis = django_rq.get_queue("low").count
        if not (result["recipients"] == queued == in_redis == users):
            raise RuntimeError(
                f"{result['recipients']} recipients, {queued} rows queued, "
                f"{in_redis} jobs in Redis; expected {users}"
            )
        print(f"  {fan_out_s:.2f} s: {users / fan_out_s:,.0f} jobs/s queued")

        print("sending: two workers")
        worker_command = start_workers(processes, env, 2)
        total, (first_at, first_count) = wait_for_emails(sink_out, users, processes)
        wait_until(
            lambda: digests.filter(status=JobRecord.Status.FINISHED).count() == users,
            60,
            "every digest job finished",
            processes,
        )
        messages = sent_messages(sink_out)
        recipients = {address for message in messages for address in message["to"]}
        failed = digests.filter(status=JobRecord.Status.FAILED).count()
        if len(messages) != users or len(recipients) != users or failed:
            raise RuntimeError(
                f"{len(messages)} messages to {len(recipients)} people, {failed} failed jobs"
            )
        print(f"  {total:.1f} s: {users / total:,.1f} jobs/s sent")
        for name, process, _ in list(processes.children):
            if name.startswith("worker"):
                os.killpg(process.pid, 15)
                process.wait(timeout=30)

        naive_people = people[: min(users, NAIVE_USERS)]
        began = time.perf_counter()
        for person in naive_people:
            send_digest_email.enqueue(person.pk, "2026-12-02", "", owner=person)
        naive_s = time.perf_counter() - began
        batch_size = settings.DIGEST_BATCH_SIZE
    except BaseException:
        print(f"logs kept in {work}")
        raise
    finally:
        processes.stop()
        server.stop()
    shutil.rmtree(work, ignore_errors=True)

    steady = (users - first_count) / (total - first_at) if total > first_at else float("nan")
    report(
        users=users,
        fan_out_s=fan_out_s,
        batch_size=batch_size,
        send_s=total,
        first_at=first_at,
        steady=steady,
        naive_n=len(naive_people),
        naive_s=naive_s,
        worker_command=worker_command,
    )


def report(
    *, users, fan_out_s, batch_size, send_s, first_at, steady, naive_n, naive_s, worker_command
):
    queued_rate = users / fan_out_s
    naive_rate = naive_n / naive_s
    send_rate = users / send_s
    lines = [
        "## Fan-out: the daily digest",
        "",
        f"{users:,} people, each with a photo added since they joined, in SQLite (WAL) under "
        "a temporary DATA_DIR, a private redis-server, and an aiosmtpd sink "
        "(tests/chaos/smtp_server.py), all on loopback. The fan-out is "
        "`accounts.services.digests_fan_out()` in the bench's process, as the send_digests "
        f"job runs it: recipients in keyset pages of {batch_size}, each page one bulk insert "
        "of job rows and one Redis pipeline. Then two workers start, the Procfile's line "
        f"(`{worker_command}`), with EMAIL_URL pointing at the sink; sending is timed from "
        f"their start until the sink holds {users:,} messages. **EMAIL_RATE_LIMIT is raised "
        f"to {EMAIL_RATE_LIMIT:,} per 60 s for the bench**: at the default of 100 per 60 s the "
        f"same {users:,} emails take {users / 100:,.0f} minutes, by design. The naive loop is "
        f"one `send_digest_email.enqueue()` per person ({naive_n:,} people). One run, "
        f"{machine()}.",
        "",
        "| step | jobs | time | jobs/s |",
        "|---|---:|---:|---:|",
        f"| fan-out: every job queued (digests_fan_out) | {users:,} | {fan_out_s:.2f} s "
        f"| {queued_rate:,.0f} |",
        f"| naive: one .enqueue() per person | {naive_n:,} | {naive_s:.2f} s | {naive_rate:,.0f} |",
        f"| sending: every email at the sink (2 workers) | {users:,} | {send_s:.1f} s "
        f"| {send_rate:,.1f} |",
        "",
        f"- Goal: at least {GOAL_QUEUED_PER_S:,} jobs/s queued: **{queued_rate:,.0f} jobs/s, "
        f"{'met' if queued_rate >= GOAL_QUEUED_PER_S else 'not met'}** "
        f"({queued_rate / naive_rate:.1f}x the naive loop).",
        f"- Sending: {send_rate:,.1f} jobs/s overall; the first email arrived "
        f"{first_at:.1f} s after the workers started, then {steady:,.1f} jobs/s. Every "
        "person got exactly one message; no job failed.",
    ]
    chart = svg_bars(
        "Daily digest: jobs per second",
        [
            ("fan-out queued", queued_rate),
            ("naive .enqueue() loop", naive_rate),
            ("emails sent (2 workers)", send_rate),
        ],
        unit="jobs/s",
    )
    write_section("fan_out", "\n".join(lines), chart=chart)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=USERS)
    main(parser.parse_args().users)
