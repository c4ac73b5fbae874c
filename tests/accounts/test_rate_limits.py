"""Login and signup are rate-limited per IP and per account, in the suite's own Redis."""

import logging
import time

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0?socket_connect_timeout=0.2&socket_timeout=0.2"


def log_in(client, username, password="wrong", ip="192.0.2.1"):
    data = {"username": username, "password": password}
    return client.post(reverse("accounts:login"), data, REMOTE_ADDR=ip)


def sign_up(client, username, email, ip="192.0.2.1"):
    password = "a long enough passphrase"
    data = {"username": username, "email": email, "password1": password, "password2": password}
    return client.post(reverse("accounts:signup"), data, REMOTE_ADDR=ip)


@pytest.fixture
def limits(settings):
    settings.LOGIN_RATE_LIMIT, settings.LOGIN_RATE_IP_LIMIT = 3, 100
    settings.SIGNUP_RATE_LIMIT, settings.SIGNUP_RATE_IP_LIMIT = 2, 100
    return settings


def test_an_account_over_its_limit_gets_429_with_the_form_and_a_plain_message(
    client, alice, limits
):
    for username in ("alice", "Alice", "ALICE"):  # one account, however it is typed
        assert log_in(client, username).status_code == 200

    response = log_in(client, "alice", password="correct horse 1")

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many attempts to log in. Please wait 5 minutes and try again." in page
    assert 'name="username"' in page and 'value="alice"' in page
    assert 0 < int(response["Retry-After"]) <= 300
    assert "_auth_user_id" not in client.session  # the right password was not even checked


def test_the_account_limit_does_not_hold_back_other_accounts(client, alice, bob, limits):
    for _ in range(3):
        log_in(client, "alice")

    response = log_in(client, "bob", password="correct horse 2")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(bob.pk)


def test_one_address_over_its_limit_gets_429_whichever_account_it_tries(client, bob, settings):
    settings.LOGIN_RATE_LIMIT, settings.LOGIN_RATE_IP_LIMIT = 100, 3
    for username in ("ann", "ben", "cat"):
        log_in(client, username)

    assert log_in(client, "bob", password="correct horse 2").status_code == 429
    assert log_in(client, "bob", password="correct horse 2", ip="192.0.2.2").status_code == 302


def test_ipv6_addresses_of_one_network_share_a_limit(client, settings):
    settings.LOGIN_RATE_LIMIT, settings.LOGIN_RATE_IP_LIMIT = 100, 2
    log_in(client, "ann", ip="2001:db8:1:2::1")
    log_in(client, "ben", ip="2001:db8:1:2::ffff")

    assert log_in(client, "cat", ip="2001:db8:1:2:abcd::9").status_code == 429
    assert log_in(client, "cat", ip="2001:db8:1:3::1").status_code == 200


def test_a_refused_attempt_takes_no_slot_so_the_window_moves_on(client, alice, settings):
    settings.LOGIN_RATE_LIMIT, settings.LOGIN_RATE_WINDOW_SECONDS = 1, 1
    assert log_in(client, "alice").status_code == 200
    assert log_in(client, "alice").status_code == 429

    time.sleep(1.1)

    assert log_in(client, "alice", password="correct horse 1").status_code == 302


def test_signups_for_one_email_over_the_limit_get_429_and_create_nothing(client, alice, limits):
    sign_up(client, "ann", "alice@example.com")  # taken: a form error, still an attempt
    sign_up(client, "ann", "Alice@Example.com")

    response = sign_up(client, "ann", "ALICE@example.com")

    assert response.status_code == 429
    assert "Too many attempts to sign up. Please wait 60 minutes" in response.content.decode()
    assert 'value="ann"' in response.content.decode()
    assert not get_user_model().objects.filter(username="ann").exists()


def test_signups_from_one_address_over_the_limit_get_429(client, settings):
    settings.SIGNUP_RATE_LIMIT, settings.SIGNUP_RATE_IP_LIMIT = 100, 2
    assert sign_up(client, "ann", "ann@example.com").status_code == 302
    client.logout()
    assert sign_up(client, "ben", "ben@example.com").status_code == 302
    client.logout()

    assert sign_up(client, "cat", "cat@example.com").status_code == 429
    assert sign_up(client, "cat", "cat@example.com", ip="192.0.2.9").status_code == 302
    assert get_user_model().objects.count() == 3


@pytest.fixture
def warnings_logged():
    """Warnings of the accounts logger, caught by our own handler so that this also works
    with pytest's logging plugin off (-p no:logging)."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger("accounts")
    handler = Collect(level=logging.WARNING)
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def test_with_redis_down_login_still_works_and_a_warning_is_logged(
    client, alice, settings, warnings_logged
):
    settings.RQ_QUEUES = {name: {**c, "URL": DEAD_REDIS} for name, c in settings.RQ_QUEUES.items()}

    response = log_in(client, "alice", password="correct horse 1")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)
    assert warnings_logged == [
        "rate limit skipped name=login:ip:192.0.2.1 reason=redis-down error=network:ConnectionError"
    ]


def test_with_redis_down_a_wrong_password_is_still_refused(client, alice, settings):
    settings.RQ_QUEUES = {name: {**c, "URL": DEAD_REDIS} for name, c in settings.RQ_QUEUES.items()}

    response = log_in(client, "alice", password="not it")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
