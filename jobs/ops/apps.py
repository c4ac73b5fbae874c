from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "jobs.ops"
    label = "jobs_ops"
    verbose_name = "Job operations"

    def ready(self):
        from jobs.ops.alerts import job_failed_alert
        from jobs.signals import job_failed

        job_failed.connect(job_failed_alert, dispatch_uid="jobs.ops.alerts")
