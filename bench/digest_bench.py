"""How long the daily digest takes to fan out to 10,000 people.

Run: .venv/bin/python bench/digest_bench.py [users]

Uses a throwaway SQLite database and a private redis-server in a temporary folder. It
times accounts.services.digests_fan_out(): finding the recipients, recording one job row
each and pushing them to Redis in batches; then, for comparison, the same number of
single send_digest_email.enqueue() calls, one row, one transaction and one Redis round
trip per person, as a naive loop would.
"""

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(users):
    from config.redis_server import RedisServer

    data_dir = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    redis_server = RedisServer(data_dir / "redis").start()
    os.environ.update(
        DATA_DIR=str(data_dir), REDIS_URL=redis_server.url, DEBUG="true", LOG_LEVEL="WARNING"
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import transaction

        from accounts.services import digests_fan_out
        from accounts.tasks import send_digest_email
        from jobs.models import JobRecord
        from uploads.models import Photo

        call_command("migrate", verbosity=0)
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

        began = time.perf_counter()
        with transaction.atomic():
            result = digests_fan_out(day="2026-11-22")
        fan_out = time.perf_counter() - began
        queued = JobRecord.objects.filter(kind="send_digest_email", status="queued").count()

        JobRecord.objects.all().delete()
        began = time.perf_counter()
        for person in people:
            with transaction.atomic():
                send_digest_email.enqueue(person.pk, "2026-11-22", "", owner=person)
        naive = time.perf_counter() - began

        print("| users | digests_fan_out (batched) | one .enqueue() per user | ratio |")
        print("|---:|---:|---:|---:|")
        ratio = naive / fan_out
        print(f"| {result['recipients']:,} | {fan_out:.2f} s | {naive:.2f} s | {ratio:.1f}x |")
        print(f"queued rows after the fan-out: {queued:,}")
    finally:
        redis_server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
