"""The queued side of /demo/difference/: view -> enqueue -> worker -> demo_step_run ->
the job's page shows it done."""

from jobs.base import job
from jobs.demo.services import demo_step_run


@job(
    queue="default",
    retries=0,
    timeout=60,
    label="Demo slow step",
    about="The demo's slow step: a pause that stands for a slow mail server, then a real email.",
)
def run_demo_step(to):
    return {"seconds": round(demo_step_run(to=to), 3)}
