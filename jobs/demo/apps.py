from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo's pages and job (jobs.demo.tasks, found with every app's tasks)."""

    name = "jobs.demo"
    label = "jobs_demo"
    verbose_name = "Job demo"
