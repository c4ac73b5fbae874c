from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self):
        # Import every app's tasks module, so that each process knows every declared
        # job (jobs.base.registry): the scheduler registers the ones with a cron string.
        autodiscover_modules("tasks")
