"""Case (i): workers on two hosts share one Redis and one PostgreSQL; one host is cut off.

The hosts are network namespaces on a private bridge (tests/chaos/netns.py). Redis,
PostgreSQL and the SMTP sink listen on the bridge, in the root namespace; each host runs
two workers, and host B also runs the sweeper. Mid-batch, host A's link goes down: its
workers keep running but can reach nothing, so they can neither finish the jobs they
hold nor say that they stopped. Host B's sweeper must see their heartbeats expire and
hand those jobs to host B's workers; every job must finish, with one email each.

Both tests read their own PostgreSQL (psycopg), not pytest-django's test database, and
record their batches through `manage.py shell`, a process of the deployment like the web
server would be.

A second test cuts host A off while its workers wait for jobs: Redis hands them the
next jobs anyway, and the sweeper must notice those jobs left their queue for nowhere.
"""

import json
import re
import subprocess
import sys
import time

import pytest

from tests.chaos import netns
from tests.chaos.harness import BASE_DIR, duplicates, report, wait_until
from tests.chaos.tasks import deliver, recipient

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(bool(netns.unavailable()), reason=netns.unavailable() or ""),
]

WORKERS_PER_HOST = 2
JOBS = 40
SECONDS_PER_JOB = 0.5  # long enough that host A holds jobs when it is cut off
JOBS_AFTER_AN_IDLE_CUT = 8
RECOVERY_TIMEOUT = 60

RECORD_BATCH = """
import json
from tests.chaos.harness import submit_deliveries
records = submit_deliveries({count}, seconds={seconds})
print(json.dumps([str(record.pk) for record in records]))
"""


@pytest.fixture
def two_hosts(request, tmp_path):
    """Hosts a and b, their servers on the bridge, and the app migrated on PostgreSQL."""
    with netns.PrivateNetwork(letters=("a", "b")) as network:
        postgres = netns.PostgresServer(network.address, network.subnet)
        stack = netns.TwoHostStack(
            tmp_path,
            network,
            postgres,
            workers_per_host=WORKERS_PER_HOST,
            sweeper_host="b",
        )
        try:
            postgres.start()
            manage(stack, "migrate", "--noinput")
            stack.start()
            yield stack
        finally:
            report_call = getattr(request.node, "report_call", None)
            stack.close(show_logs=report_call is None or report_call.failed)
            postgres.stop()


def manage(stack, *arguments):
    """Run a manage.py command as the deployment's processes see it; returns its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        env=stack.env(),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def rows(stack):
    """{job id: (status, attempts, worker)} of the batch, read from our own PostgreSQL."""
    with stack.postgres.connect() as connection:
        found = connection.execute(
            "SELECT id, status, attempts, worker FROM jobs_jobrecord WHERE kind = %s",
            [deliver.name],
        ).fetchall()
    return {str(job_id): (status, attempts, worker) for job_id, status, attempts, worker in found}


def finished(stack):
    return [job_id for job_id, (status, _, _) in rows(stack).items() if status == "finished"]


def every_job_finished(stack, count):
    wait_until(
        lambda: len(finished(stack)) == count,
        timeout=RECOVERY_TIMEOUT,
        message=lambda: unfinished(stack),
        interval=0.2,
    )


def unfinished(stack):
    """For a failure message: the rows that are not finished."""
    return {job_id: row for job_id, row in rows(stack).items() if row[0] != "finished"}


def record_batch(stack, count, seconds):
    """Record a batch in one transaction, through `manage.py shell`; returns the ids."""
    script = RECORD_BATCH.format(count=count, seconds=seconds)
    return json.loads(manage(stack, "shell", "--verbosity", "0", "-c", script))


def test_a_host_cut_off_mid_batch_loses_no_job_and_sends_no_email_twice(two_hosts):
    stack = two_hosts
    host_a, host_b = stack.network.hosts["a"], stack.network.hosts["b"]
    on_a = {stack.worker_name(worker) for worker in stack.workers_on(host_a)}
    on_b = {stack.worker_name(worker) for worker in stack.workers_on(host_b)}
    ids = record_batch(stack, JOBS, SECONDS_PER_JOB)

    def host_a_is_busy():
        running_on_a = [
            job_id
            for job_id, (status, _, worker) in rows(stack).items()
            if status == "started" and worker in on_a
        ]
        return len(finished(stack)) >= 8 and len(running_on_a) == WORKERS_PER_HOST

    wait_until(host_a_is_busy, timeout=30, message=lambda: rows(stack))
    host_a.cut_off()
    cut_at = time.monotonic()
    # Host A can write nothing more: what the rows say now is what it left behind.
    held_by_a = {
        job_id
        for job_id, (status, _, worker) in rows(stack).items()
        if status == "started" and worker in on_a
    }

    def held_jobs_are_taken_back():
        now = rows(stack)
        return not any(
            now[job_id][0] == "started" and now[job_id][2] in on_a for job_id in held_by_a
        )

    def held_jobs_finished():
        return all(rows(stack)[job_id][0] == "finished" for job_id in held_by_a)

    wait_until(held_jobs_are_taken_back, timeout=RECOVERY_TIMEOUT, message=lambda: rows(stack))
    seconds_to_detect = time.monotonic() - cut_at
    # Pushed again at the end of the queue: they finish after the jobs queued before them.
    wait_until(held_jobs_finished, timeout=RECOVERY_TIMEOUT, message=lambda: unfinished(stack))
    seconds_to_recover = time.monotonic() - cut_at
    every_job_finished(stack, JOBS)
    seconds_to_finish = time.monotonic() - cut_at

    final = rows(stack)
    recovered = {job_id for action, job_id in stack.sweeper_actions() if action == "recovered"}
    recipients = stack.recipients()
    report(
        "scale-out-host-cut-off",
        jobs=len(ids),
        completed=len(finished(stack)),
        recovered=len(recovered),
        held_by_cut_off_host=len(held_by_a),
        seconds_to_take_back=round(seconds_to_detect, 1),
        seconds_to_recover=round(seconds_to_recover, 1),
        seconds_to_finish_the_batch=round(seconds_to_finish, 1),
        duplicates=duplicates(recipients),
    )
    assert sorted(final) == sorted(ids)
    # Host B's sweeper took back each job host A held, and host B's workers finished it.
    assert held_by_a <= recovered, stack.sweeper.tail()
    assert all(final[job_id][2] in on_b for job_id in held_by_a), final
    assert sorted(recipients) == sorted(recipient(index) for index in range(JOBS))
    assert duplicates(recipients) == 0


def test_a_host_cut_off_while_idle_strands_no_job(two_hosts):
    """Idle workers wait in BLPOP. Cut off there, host A's workers are still waiting as far
    as Redis can tell, so it hands them the first jobs that arrive, and the answers go
    nowhere: those jobs are out of their queue, and no worker will ever say it has them.
    Host B's sweeper must find them and push them again."""
    stack = two_hosts
    host_a = stack.network.hosts["a"]
    names = [stack.worker_name(worker) for worker in stack.workers]
    wait_until(
        lambda: all(stack.redis.hget(f"rq:worker:{name}", "state") == b"idle" for name in names),
        timeout=15,
        message="the workers never waited for a job",
    )
    # Each waiting worker, host A's two among them, is handed one of the first jobs.
    host_a.cut_off()
    cut_at = time.monotonic()
    ids = record_batch(stack, JOBS_AFTER_AN_IDLE_CUT, 0.1)

    every_job_finished(stack, JOBS_AFTER_AN_IDLE_CUT)
    seconds_to_recover = time.monotonic() - cut_at

    stranded = re.findall(r"sweep repushed id=(\S+) .*reason=stranded", stack.sweeper.log())
    recipients = stack.recipients()
    report(
        "scale-out-host-cut-off-while-idle",
        jobs=len(ids),
        completed=len(finished(stack)),
        recovered=len(stranded),
        seconds_to_recover=round(seconds_to_recover, 1),
        duplicates=duplicates(recipients),
    )
    assert set(stranded) <= set(ids)
    assert len(stranded) == len(stack.workers_on(host_a)), stack.sweeper.tail()
    assert sorted(recipients) == sorted(recipient(index) for index in range(len(ids)))
    assert duplicates(recipients) == 0
