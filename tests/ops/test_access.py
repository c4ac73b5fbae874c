"""Only staff reach the ops pages, their actions, and django-rq's dashboard; only a
scraper with the token reaches /metrics."""

import pytest
from django.test import Client
from django.urls import reverse
from django_rq.urls import urlpatterns as django_rq_urlpatterns

from tests.ops.conftest import failed_ids

pytestmark = pytest.mark.django_db

# (method, url name, whether it names one job, whether it takes selected jobs)
OPS_ENDPOINTS = [
    ("get", "ops:dashboard", False, False),
    ("get", "ops:overview", False, False),
    ("get", "ops:failed", False, False),
    ("get", "ops:failed-detail", True, False),
    ("get", "ops:failed-requeue", True, False),
    ("post", "ops:failed-requeue", True, False),
    ("get", "ops:failed-delete", True, False),
    ("post", "ops:failed-delete", True, False),
    ("get", "ops:failed-requeue-selected", False, True),
    ("post", "ops:failed-requeue-selected", False, True),
    ("get", "ops:failed-delete-selected", False, True),
    ("post", "ops:failed-delete-selected", False, True),
    ("get", "ops:failed-requeue-all", False, False),
    ("post", "ops:failed-requeue-all", False, False),
    ("get", "ops:failed-delete-all", False, False),
    ("post", "ops:failed-delete-all", False, False),
]
EVERY_ENDPOINT = [pytest.param(*e, id=f"{e[0]} {e[1]}") for e in OPS_ENDPOINTS]
EVERY_PAGE = [pytest.param(*e, id=e[1]) for e in OPS_ENDPOINTS if e[0] == "get"]
ENDPOINT = ("method", "name", "names_job", "selects")

# Values for every argument a django-rq URL takes, so that each of its views is tried.
DJANGO_RQ_ARGUMENTS = {
    "queue_index": 0,
    "scheduler_index": 0,
    "connection_index": 0,
    "job_id": "some-job",
    "result_id": "1-0",
    "key": "rq:worker:someone",
    "scheduler_name": "someone",
    "cron_job_name": "some-cron",
    "token": "wrongtoken",
}
DJANGO_RQ_ROUTES = [
    pytest.param(name, arguments, id=f"{name}({','.join(arguments)})")
    for name, arguments in sorted(
        {
            (pattern.name, tuple(sorted(pattern.pattern.regex.groupindex)))
            for pattern in django_rq_urlpatterns
        }
    )
]


def call(client, method, name, names_job, selects, failed):
    ref = f"default:{failed.id}"
    args = ["default", failed.id] if names_job else []
    data = {"job": [ref]} if selects else {}
    return getattr(client, method)(reverse(name, args=args), data)


def assert_untouched(failed):
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert str(failed.id) in failed_ids()


@pytest.mark.parametrize(ENDPOINT, EVERY_ENDPOINT)
def test_anonymous_visitors_are_sent_to_log_in_and_change_nothing(
    client, failed_record, method, name, names_job, selects
):
    response = call(client, method, name, names_job, selects, failed_record)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert_untouched(failed_record)


@pytest.mark.parametrize(ENDPOINT, EVERY_ENDPOINT)
def test_signed_in_non_staff_get_403_and_change_nothing(
    client, bob, failed_record, method, name, names_job, selects
):
    client.force_login(bob)

    response = call(client, method, name, names_job, selects, failed_record)

    assert response.status_code == 403
    assert_untouched(failed_record)


@pytest.mark.parametrize(ENDPOINT, EVERY_PAGE)
def test_staff_see_every_page_and_a_get_changes_nothing(
    client, staff, failed_record, method, name, names_job, selects
):
    client.force_login(staff)

    response = call(client, method, name, names_job, selects, failed_record)

    assert response.status_code == 200
    assert_untouched(failed_record)


def test_a_post_without_the_csrf_token_is_refused(staff, failed_record):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)

    response = client.post(reverse("ops:failed-requeue-all"))

    assert response.status_code == 403
    assert_untouched(failed_record)


def django_rq_url(name, arguments):
    return reverse(f"django_rq:{name}", kwargs={key: DJANGO_RQ_ARGUMENTS[key] for key in arguments})


@pytest.mark.parametrize(("name", "arguments"), DJANGO_RQ_ROUTES)
@pytest.mark.parametrize("who", ["anonymous", "bob", "staff_only", "viewer"])
def test_django_rq_keeps_out_everyone_who_may_not_act(client, request, who, name, arguments):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    url = django_rq_url(name, arguments)
    responses = [client.get(url), client.post(url)]

    # Its API views (stats JSON) answer a scraper with RQ_API_TOKEN, which is not set,
    # and people who may look: the viewer reads them, as it reads /ops/.
    token_view = "token" in arguments
    for response in responses:
        if token_view and who in ("anonymous", "viewer"):
            assert response.status_code == (401 if who == "anonymous" else 200), url
        elif who == "anonymous":
            assert response.status_code == 302, url
            assert response.url.startswith(reverse("accounts:login")), url
        else:
            assert response.status_code == 403, (url, who)


def test_django_rq_dashboard_is_mounted_for_staff(client, staff):
    client.force_login(staff)

    response = client.get("/ops/rq/")

    assert response.status_code == 200
    assert b"default" in response.content


def test_the_admin_copy_of_the_django_rq_dashboard_also_needs_staff(client, bob):
    client.force_login(bob)

    response = client.get("/admin/django_rq/dashboard/")

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_metrics_do_not_exist_without_a_configured_token(client, staff, settings):
    settings.METRICS_TOKEN = ""
    client.force_login(staff)

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "s3cret-token", "Basic czNjcmV0LXRva2Vu", "Bearer", "Bearer  "],
)
def test_metrics_need_the_bearer_token(client, settings, authorization):
    settings.METRICS_TOKEN = "s3cret-token"
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"jobs_" not in response.content


def test_a_staff_session_is_not_a_metrics_token(client, staff, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    client.force_login(staff)

    assert client.get("/metrics").status_code == 401


def test_the_right_token_gets_the_metrics(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"

    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_only_those_who_may_look_see_the_ops_link(client, alice, staff_only, viewer):
    link = f'href="{reverse("ops:dashboard")}"'
    for who, shown in [(alice, False), (staff_only, False), (viewer, True)]:
        client.force_login(who)
        assert (link in client.get("/jobs/").content.decode()) is shown, who.username
