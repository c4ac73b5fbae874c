"""Fixtures for the fault suite: a Stack per test, always torn down, its logs shown on failure."""

import pytest

from config.settings import redis_url_with_timeouts
from tests.chaos.harness import Stack


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test item, so that a fixture can tell, while it
    # tears down, whether the test failed and the processes' logs are worth printing.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def stack(request, tmp_path, settings):
    """start(**options) brings up a Stack and points this test process's queues at it.

    Jobs the test records are pushed to the Stack's Redis, and the Stack's processes work
    on the test's (committed) database. Everything stops when the test ends.
    """
    stacks = []

    def start(**options):
        deployment = Stack(tmp_path, **options)
        stacks.append(deployment)
        deployment.start()
        url = redis_url_with_timeouts(deployment.redis_server.url)
        settings.REDIS_URL = url
        settings.RQ_QUEUES = {
            name: {**config, "URL": url} for name, config in settings.RQ_QUEUES.items()
        }
        return deployment

    try:
        yield start
    finally:
        report = getattr(request.node, "report_call", None)
        failed = report is None or report.failed
        for deployment in stacks:
            deployment.close(show_logs=failed)
