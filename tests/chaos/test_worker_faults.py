"""Workers die mid-job, or are told to stop: no job is lost, none has its effect twice."""

import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import JobRecord
from tests.chaos.harness import (
    LONG,
    assert_every_email_arrived_once,
    children_of,
    duplicates,
    finished_count,
    is_running,
    kill_group,
    kill_parent_only,
    proc_stat,
    recovered_rows,
    report,
    session_members,
    submit_deliveries,
    unfinished,
    wait_until,
    wait_until_finished,
)
from tests.chaos.tasks import recipient

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]


def young_long_job_on(worker_name, records, *, seconds_left):
    """A LONG job running on `worker_name` with at least `seconds_left` of work ahead."""
    long_ids = [r.pk for r in records if r.args[1] == LONG]
    since = timezone.now() - timedelta(seconds=LONG - seconds_left)
    return JobRecord.objects.filter(
        pk__in=long_ids, status="started", worker=worker_name, started_at__gt=since
    ).first()


def wait_for_recovery(killed, killed_at):
    """Seconds from a kill until the sweeper handed the killed job back, and until it
    finished. (It queues behind the jobs submitted after it.)"""

    def row():
        return JobRecord.objects.get(pk=killed.pk)

    wait_until(
        lambda: (current := row()).status != "started" or current.attempts > killed.attempts,
        timeout=20,
        message=lambda: f"the killed job is still {row().stage!r}",
        interval=0.05,
    )
    handed_back = time.monotonic() - killed_at
    wait_until(
        lambda: row().status == "finished",
        timeout=60,
        message=lambda: f"the killed job is {row().status} {row().stage!r}",
    )
    return round(handed_back, 2), round(time.monotonic() - killed_at, 2)


def assert_every_job_ran_once(stack, records):
    """All finished, the SMTP server got one email per job, and none twice."""
    wait_until_finished(records)
    return assert_every_email_arrived_once(stack, [recipient(r.args[0]) for r in records])


def test_killing_a_worker_group_mid_batch_loses_nothing(stack):
    deployment = stack(workers=2)
    victim = deployment.workers[0]
    began = time.monotonic()
    records = submit_deliveries(200, long_every=25)

    killed = wait_until(
        lambda: young_long_job_on(deployment.worker_name(victim), records, seconds_left=1),
        timeout=60,
        message=lambda: f"no long job started on the victim; {unfinished(records)}",
        interval=0.02,
    )
    kill_group(victim)  # kill -9 -PGID: the worker, with its job, and its scheduler
    killed_at = time.monotonic()
    # Nothing of the dead worker runs on. (The job has a second of work left: anything
    # that survived the kill would still be running it.)
    wait_until(
        lambda: not any(is_running(pid) for pid in session_members(victim.pid)),
        timeout=0.5,
        message="a process of the killed worker still runs",
        interval=0.02,
    )
    # The Stack's supervisor starts a replacement, as make run's does.

    seconds_to_hand_back, seconds_to_recover = wait_for_recovery(killed, killed_at)
    received = assert_every_job_ran_once(deployment, records)

    killed.refresh_from_db()
    assert killed.attempts == 2  # the one the kill cut short, and one more
    assert ("recovered", str(killed.pk)) in deployment.sweeper_actions()
    assert not JobRecord.objects.filter(pk__in=[r.pk for r in records], attempts__gt=2).exists()
    report(
        "a_kill_worker_group",
        jobs=len(records),
        completed=finished_count(records),
        recovered=recovered_rows(records, deployment),
        seconds_to_hand_back=seconds_to_hand_back,
        seconds_to_recover=seconds_to_recover,
        seconds_total=round(time.monotonic() - began, 2),
        worker_restarts=deployment.restarts,
        duplicates=duplicates(received),
        emails=len(received),
    )


def work_horse_of(worker):
    """The PID of a forking worker's work horse: its child in a process group of its own
    (RQ's scheduler, its other child, stays in the worker's group)."""
    horses = [pid for pid in children_of(worker.pid) if (stat := proc_stat(pid)) and stat[2] == pid]
    return horses[0] if horses else None


def test_killing_only_a_workers_parent_kills_its_horse_and_the_job_runs_once_more(stack):
    # The Procfile's SimpleWorker runs jobs in itself; a forking Worker, which runs each
    # job in a work horse of its own process group, is the one with a child to outlive it.
    deployment = stack(workers=2, worker_class="jobs.worker.Worker")
    victim = deployment.workers[0]
    records = submit_deliveries(40, long_every=10)

    killed = wait_until(
        lambda: young_long_job_on(deployment.worker_name(victim), records, seconds_left=1),
        timeout=60,
        message=lambda: f"no long job started on the victim; {unfinished(records)}",
        interval=0.02,
    )
    horse = wait_until(lambda: work_horse_of(victim), timeout=1, message="no work horse found")
    kill_parent_only(victim)  # kill -9 PID: the worker alone, not its children
    killed_at = time.monotonic()

    # Left running, the horse would send its email while the sweeper hands the same job
    # to another worker. The kernel must have killed it with its parent, at once: the job
    # has a second of work left, so a horse that survived would still be running.
    wait_until(
        lambda: not is_running(horse),
        timeout=0.5,
        message=f"work horse {horse} outlived its worker",
        interval=0.02,
    )

    seconds_to_hand_back, seconds_to_recover = wait_for_recovery(killed, killed_at)
    received = assert_every_job_ran_once(deployment, records)

    killed.refresh_from_db()
    assert killed.attempts == 2  # exactly once more
    assert received.count(recipient(killed.args[0])) == 1
    report(
        "b_kill_worker_parent_only",
        jobs=len(records),
        completed=finished_count(records),
        recovered=recovered_rows(records, deployment),
        seconds_to_hand_back=seconds_to_hand_back,
        seconds_to_recover=seconds_to_recover,
        duplicates=duplicates(received),
        emails=len(received),
        horse_killed=True,
    )


def test_a_warm_shutdown_of_every_worker_hands_nothing_back_half_done(stack):
    deployment = stack(workers=2)
    records = submit_deliveries(60, seconds=0.3)
    workers = list(deployment.workers)
    names = [deployment.worker_name(worker) for worker in workers]

    # Stop the tier while both workers are in the middle of a job.
    running = wait_until(
        lambda: (
            rows
            if len(rows := list(JobRecord.objects.filter(status="started", worker__in=names))) == 2
            else None
        ),
        timeout=30,
        message=lambda: unfinished(records),
        interval=0.02,
    )
    with deployment.unsupervised():  # a deliberate stop: nobody replaces them
        for worker in workers:
            worker.popen.send_signal(signal.SIGTERM)  # the main PID only, as supervisors do
        stopped_at = time.monotonic()
        for worker in workers:
            assert worker.wait(15), f"{worker.name} did not stop:\n{worker.tail()}"
    # Each finished the job it had, and took no other.
    for row in running:
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("finished", 1), (row.status, row.stage)
    done_while_stopping = finished_count(records)
    assert done_while_stopping < len(records), "the batch ended before the shutdown"
    assert not JobRecord.objects.filter(status="started").exists()

    for _ in workers:
        deployment.start_worker()
    received = assert_every_job_ran_once(deployment, records)
    seconds_to_recover = time.monotonic() - stopped_at

    assert not JobRecord.objects.filter(pk__in=[r.pk for r in records], attempts__gt=1).exists()
    # Nothing was recovered, pushed or pushed again: the rows never disagreed with Redis.
    assert deployment.sweeper_actions() == []
    report(
        "h_warm_shutdown_of_the_worker_tier",
        jobs=len(records),
        completed=finished_count(records),
        recovered=recovered_rows(records, deployment),
        seconds_to_recover=round(seconds_to_recover, 2),
        duplicates=duplicates(received),
        emails=len(received),
        finished_while_stopping=done_while_stopping,
    )
