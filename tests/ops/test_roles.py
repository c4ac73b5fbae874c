"""The two ops permissions on every URL of the console, for every kind of visitor.

`jobs.view_ops` looks, `jobs.act_ops` acts; superusers have both and staff status alone
grants neither. The table below names every route of jobs.ops.urls: a route added
without a row here fails test_every_route_is_in_the_table.
"""

from datetime import timedelta

import pytest
from django.urls import reverse

from jobs.models import JobRecord
from jobs.ops import urls
from jobs.ops.models import OpsAction
from jobs.schedules import periodic_declared, register_periodic_jobs
from tests.jobs import tasks
from tests.ops.conftest import failed_ids

pytestmark = pytest.mark.django_db

LOOK, ACT = "look", "act"
# route name: (level, how to build its arguments and data from the `things` fixture)
ROUTES = {
    "dashboard": (LOOK, lambda t: ([], {})),
    "overview": (LOOK, lambda t: ([], {})),
    "charts": (LOOK, lambda t: ([], {})),
    "jobs": (LOOK, lambda t: ([], {"status": "failed"})),
    "job": (LOOK, lambda t: ([t["failed"].id], {})),
    "audit": (LOOK, lambda t: ([], {})),
    "busy": (LOOK, lambda t: ([], {})),
    "scheduled": (LOOK, lambda t: ([], {})),
    "cron": (LOOK, lambda t: ([], {})),
    "workers": (LOOK, lambda t: ([], {})),
    "failed": (LOOK, lambda t: ([], {})),
    "failed-detail": (LOOK, lambda t: (["default", t["failed"].id], {})),
    "bulk": (LOOK, lambda t: ([t["bulk"].id], {})),
    "bulk-panel": (LOOK, lambda t: ([t["bulk"].id], {})),
    "jobs-bulk": (ACT, lambda t: (["requeue"], {"kind": "fail_times"})),
    "job-requeue": (ACT, lambda t: ([t["failed"].id], {})),
    "job-cancel": (ACT, lambda t: ([t["delayed"].id], {})),
    "scheduled-run-now": (ACT, lambda t: (["default", t["delayed"].id], {})),
    "cron-run-now": (ACT, lambda t: ([t["cron_entry"]], {})),
    "queue-pause": (ACT, lambda t: (["default"], {})),
    "queue-resume": (ACT, lambda t: (["default"], {})),
    "failed-requeue": (ACT, lambda t: (["default", t["failed"].id], {})),
    "failed-delete": (ACT, lambda t: (["default", t["failed"].id], {})),
    "failed-requeue-selected": (ACT, lambda t: ([], {"job": [f"default:{t['failed'].id}"]})),
    "failed-delete-selected": (ACT, lambda t: ([], {"job": [f"default:{t['failed'].id}"]})),
    "failed-requeue-all": (ACT, lambda t: ([], {})),
    "failed-delete-all": (ACT, lambda t: ([], {})),
}
LOOKS = [name for name, (level, _) in ROUTES.items() if level == LOOK]
ACTS = [name for name, (level, _) in ROUTES.items() if level == ACT]
CALLS = [("get", name) for name in ROUTES] + [("post", name) for name in ACTS]


@pytest.fixture
def things(failed_record, enqueue):
    """Something for every route to act on: a failed job, a delayed one, a bulk job's row
    and a cron entry."""
    register_periodic_jobs()
    return {
        "failed": failed_record,
        "delayed": enqueue(tasks.succeed, 1, delay=timedelta(hours=1)),
        "bulk": JobRecord.objects.create(kind="requeue_failed_jobs", func="x", status="queued"),
        "cron_entry": next(iter(periodic_declared())),
    }


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw pw 123")


def call(client, method, name, things):
    args, data = ROUTES[name][1](things)
    return getattr(client, method)(reverse(f"ops:{name}", args=args), data)


def assert_nothing_changed(things):
    things["failed"].refresh_from_db()
    things["delayed"].refresh_from_db()
    assert things["failed"].status == "failed"
    assert str(things["failed"].id) in failed_ids()
    assert things["delayed"].status == "scheduled"
    assert not OpsAction.objects.exists()


def test_every_route_is_in_the_table():
    assert {pattern.name for pattern in urls.urlpatterns} == set(ROUTES)


# One visitor tries every route in one test: the routes share one set of `things`,
# which nothing but an action may change.


def test_anonymous_visitors_are_sent_to_log_in(client, things):
    for method, name in CALLS:
        response = call(client, method, name, things)

        assert response.status_code == 302, (method, name)
        assert response.url.startswith(reverse("accounts:login")), (method, name)
    assert_nothing_changed(things)


@pytest.mark.parametrize("who", ["bob", "staff_only"])
def test_neither_a_user_nor_staff_status_alone_gets_in(client, things, request, who):
    client.force_login(request.getfixturevalue(who))

    for method, name in CALLS:
        assert call(client, method, name, things).status_code == 403, (method, name)
    assert_nothing_changed(things)


def test_the_read_only_permission_sees_every_page_and_changes_nothing(client, viewer, things):
    client.force_login(viewer)

    for name in LOOKS:
        assert call(client, "get", name, things).status_code == 200, name
    for method, name in [("get", name) for name in ACTS] + [("post", name) for name in ACTS]:
        assert call(client, method, name, things).status_code == 403, (method, name)
    assert_nothing_changed(things)


def test_the_read_only_permission_is_shown_no_buttons_that_act(client, viewer, staff, things):
    acting = [
        reverse("ops:failed-requeue-all"),
        reverse("ops:job-requeue", args=[things["failed"].id]),
        reverse("ops:failed-requeue", args=["default", things["failed"].id]),
        reverse("ops:queue-pause", args=["default"]),
        reverse("ops:cron-run-now", args=[things["cron_entry"]]),
    ]
    pages = ["dashboard", "failed", "failed-detail", "job", "cron"]
    for who, shown in [(staff, True), (viewer, False)]:
        client.force_login(who)
        html = "".join(call(client, "get", name, things).content.decode() for name in pages)
        for url in acting:
            assert (url in html) is shown, (who.username, url)


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_both_permissions_see_every_page_and_every_confirmation(client, things, request, who):
    client.force_login(request.getfixturevalue(who))

    for name in ROUTES:
        assert call(client, "get", name, things).status_code == 200, name
    assert_nothing_changed(things)


@pytest.mark.parametrize("who", ["staff", "superuser"])
@pytest.mark.parametrize("name", ACTS)
def test_both_permissions_act_and_each_action_is_in_the_audit_trail(
    client, things, request, who, name, django_capture_on_commit_callbacks
):
    user = request.getfixturevalue(who)
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, "post", name, things)

    assert response.status_code == 302
    action = OpsAction.objects.get()
    assert (action.actor, action.actor_name) == (user, user.username)


def test_make_run_seeds_a_read_only_viewer_and_a_staff_member_with_both(django_user_model):
    from django.core.management import call_command

    call_command("seed_demo_users", stdout=open("/dev/null", "w"))  # noqa: SIM115

    roles = {
        user.username: (user.has_perm("jobs.view_ops"), user.has_perm("jobs.act_ops"))
        for user in django_user_model.objects.all()
    }
    assert roles == {"demo": (False, False), "viewer": (True, False), "staff": (True, True)}
