import time
import warnings

from django.core.management import call_command
from django.core.management.base import BaseCommand
from redis.exceptions import RedisError

from jobs.schedules import register_periodic_jobs, use_utc_clock


class Command(BaseCommand):
    help = "Register the periodic jobs (idempotently), then run rq-scheduler."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=int, default=5, help="Seconds between checks.")

    def handle(self, *args, interval, **options):
        use_utc_clock()
        # rq-scheduler (0.14) calls crontab's next() with a naive datetime.now() and no
        # default_utc, and crontab warns about a change that only affects calls without a
        # datetime (rq/rq-scheduler#299). With the clock pinned to UTC above the result is
        # the same either way, so this process drops that one warning from that one module.
        warnings.filterwarnings(
            "ignore",
            message=r"Version 0\.22\.0\+ of crontab",
            category=FutureWarning,
            module=r"rq_scheduler\.utils",
        )
        # Started next to Redis (make run, compose): wait for it rather than exit at once.
        while True:
            try:
                for entry in register_periodic_jobs():
                    self.stdout.write(f"scheduled {entry['id']} ({entry['cron']} UTC)")
                break
            except RedisError as exc:
                self.stderr.write(f"Redis is not answering yet ({exc}); retrying in 2s")
                time.sleep(2)
        call_command("rqscheduler", interval=interval)
