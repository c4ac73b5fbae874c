"""What the engine tells the rest of the project.

`job_failed` is sent once per job, with `record` and `error`, when the job has failed
for good: its last attempt failed, or it can never run. jobs.states sends it from the
one conditional UPDATE that makes the row failed, so a second delivery of the same job
never sends it again. The operations app (jobs.ops) mails ADMINS from it.
"""

from django.dispatch import Signal

job_failed = Signal()
