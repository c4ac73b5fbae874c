"""Case (j): the Redis primary dies mid-batch and Sentinel promotes its replica.

Every process of the app (the workers, the sweeper, and this test, which records the
jobs) finds Redis through three Sentinels. The replica is made to miss the primary's
last writes, which asynchronous replication allows, and then the primary is killed
with SIGKILL. The app must follow the Sentinels to the new primary, the sweeper must
push again what the new primary never heard of, and every job must finish with its
email sent once.
"""

import time

import pytest

from config.settings import redis_sentinel_connection, redis_url_with_timeouts
from tests.chaos.harness import (
    assert_every_email_arrived_once,
    duplicates,
    finished_count,
    recovered_rows,
    report,
    submit_deliveries,
    wait_until,
    wait_until_finished,
)
from tests.chaos.sentinel import SentinelStack
from tests.chaos.tasks import recipient

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

WORKERS = 3
BEFORE_THE_CUT = 24  # jobs recorded while replication works
AFTER_THE_CUT = 8  # jobs recorded once only the primary hears of them
SECONDS_PER_JOB = 0.3  # long enough that the batch is still running at the kill
RECOVERY_TIMEOUT = 60


@pytest.fixture
def sentinel_stack(request, tmp_path, settings):
    """A SentinelStack, with this test's own queues pointed at its Sentinels."""
    stack = SentinelStack(tmp_path, workers=WORKERS)
    try:
        stack.start()
        sentinels = stack.sentinel_setup.environment
        connection = redis_sentinel_connection(
            sentinels["REDIS_SENTINELS"],
            sentinels["REDIS_SENTINEL_MASTER"],
            redis_url=redis_url_with_timeouts("redis://127.0.0.1/0"),
        )
        # pytest-django's `settings` fixture puts RQ_QUEUES back after the test.
        settings.RQ_QUEUES = {
            name: {**connection, "DEFAULT_TIMEOUT": 300} for name in settings.RQ_QUEUE_NAMES
        }
        yield stack
    finally:
        report_call = getattr(request.node, "report_call", None)
        stack.close(show_logs=report_call is None or report_call.failed)


def test_a_failover_loses_no_job_and_sends_no_email_twice(sentinel_stack):
    setup = sentinel_stack.sentinel_setup
    before = submit_deliveries(BEFORE_THE_CUT, seconds=SECONDS_PER_JOB)
    wait_until(lambda: finished_count(before) >= 6, timeout=30, message="no job finished")

    setup.cut_replication()
    after = submit_deliveries(AFTER_THE_CUT, seconds=SECONDS_PER_JOB, first=BEFORE_THE_CUT)
    setup.kill_primary()
    killed_at = time.monotonic()

    setup.wait_for_failover()
    promoted_after = time.monotonic() - killed_at
    records = before + after
    wait_until_finished(records, timeout=RECOVERY_TIMEOUT)
    seconds_to_recover = time.monotonic() - killed_at

    recipients = sentinel_stack.recipients()
    report(
        "redis-failover",
        jobs=len(records),
        completed=finished_count(records),
        recovered=recovered_rows(records, sentinel_stack),
        seconds_to_recover=round(seconds_to_recover, 1),
        seconds_to_promote=round(promoted_after, 1),
        workers_restarted=sentinel_stack.restarts,
        duplicates=duplicates(recipients),
    )
    assert_every_email_arrived_once(sentinel_stack, [recipient(i) for i in range(len(records))])
    # The new primary never heard of the jobs recorded after the cut: the sweeper pushed
    # them again from their rows.
    repushed = {
        job_id for action, job_id in sentinel_stack.sweeper_actions() if action == "repushed"
    }
    assert repushed & {str(record.pk) for record in after}, sentinel_stack.sweeper.tail()
