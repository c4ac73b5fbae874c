from django.core.management.base import BaseCommand

from jobs.schedules import periodic_jobs, register_periodic_jobs


class Command(BaseCommand):
    help = "List the periodic jobs in rq-scheduler, or (with --register) register them again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--register", action="store_true", help="Register the declared cron jobs first."
        )

    def handle(self, *args, register=False, **options):
        entries = register_periodic_jobs() if register else periodic_jobs()
        if not entries:
            self.stdout.write("No periodic jobs registered. Run with --register.")
        for entry in entries:
            self.stdout.write(
                f"{entry['id']:<28} {entry['cron']:<14} next {entry['next_run']:%Y-%m-%d %H:%M} UTC"
                f"  {entry['func']}"
            )
