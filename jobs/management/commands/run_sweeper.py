import signal

from django.core.management.base import BaseCommand

from jobs.conf import jobs_settings
from jobs.sweeper import run_forever


class Command(BaseCommand):
    help = "Run the recovery sweeper: one pass every JOBS_SWEEP_INTERVAL seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="Seconds between passes.")

    def handle(self, *args, interval=None, **options):
        stopping = []
        # SIGTERM (docker stop, make run's Ctrl-C) ends the loop after the pass under way.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.append(True))
        interval = interval or jobs_settings.JOBS_SWEEP_INTERVAL
        self.stdout.write(f"sweeper: one pass every {interval:g}s")
        run_forever(interval=interval, should_stop=lambda: bool(stopping))
        self.stdout.write("sweeper: stopped")
