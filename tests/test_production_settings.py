"""With DEBUG off the site is secure by default, and each secure setting has its own off
switch. /dev/mail/ exists only in development, and even there only for staff."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from config.settings import proxy_ssl_header

ROOT = Path(__file__).resolve().parent.parent
SECURE = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_CONTENT_TYPE_NOSNIFF": True,
    "X_FRAME_OPTIONS": "DENY",
    "SECURE_REFERRER_POLICY": "same-origin",
    "SECURE_PROXY_SSL_HEADER": None,
}


def production_environment(**env):
    """Only what a bare production host would have: PATH and the three required variables."""
    return {
        "PATH": os.environ["PATH"],
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "example.com",
        **env,
    }


def settings_of_a_process(env):
    """The security settings as a process started with exactly this environment sees them."""
    script = (
        "import json, config.settings as s; "
        f"print(json.dumps({{name: getattr(s, name) for name in {sorted(SECURE)!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    header = values["SECURE_PROXY_SSL_HEADER"]
    values["SECURE_PROXY_SSL_HEADER"] = tuple(header) if header else None
    return values


def test_check_deploy_is_clean_with_only_debug_secret_key_and_allowed_hosts_set():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=production_environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_with_debug_off_every_secure_setting_is_on_by_default():
    assert settings_of_a_process(production_environment()) == SECURE


def test_with_no_variables_set_development_asks_for_no_https():
    values = settings_of_a_process({"PATH": os.environ["PATH"]})

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False


@pytest.mark.parametrize(
    ("variable", "value", "off"),
    [
        ("SECURE_SSL_REDIRECT", "false", False),
        ("SECURE_HSTS_SECONDS", "0", 0),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "false", False),
        ("SECURE_HSTS_PRELOAD", "false", False),
        ("SESSION_COOKIE_SECURE", "false", False),
        ("CSRF_COOKIE_SECURE", "false", False),
    ],
)
def test_each_secure_setting_has_its_own_variable_that_turns_it_off_alone(variable, value, off):
    values = settings_of_a_process(production_environment(**{variable: value}))

    assert values == {**SECURE, variable: off}


def test_the_proxy_header_variable_is_read_as_header_name_and_value():
    env = production_environment(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto=https")

    values = settings_of_a_process(env)

    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize("value", ["X-Forwarded-Proto", "X-Forwarded-Proto=", "=https", "X_F=1"])
def test_a_proxy_header_that_is_not_name_equals_value_is_refused(value):
    with pytest.raises(ImproperlyConfigured, match="X-Forwarded-Proto=https"):
        proxy_ssl_header(value)


def test_an_empty_proxy_header_means_no_proxy_is_trusted():
    assert proxy_ssl_header("") is None
    assert proxy_ssl_header(" X-Scheme = https ") == ("HTTP_X_SCHEME", "https")


@pytest.fixture
def ssl_redirect(settings):
    """The production redirect, in this process: SecurityMiddleware reads it when the
    test client builds its middleware, at the client's first request."""
    settings.SECURE_SSL_REDIRECT = True


@pytest.mark.django_db
def test_pages_over_plain_http_are_redirected_to_https(client, ssl_redirect):
    response = client.get("/accounts/login/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"


@pytest.mark.django_db
def test_a_load_balancer_probes_healthz_over_plain_http(client, ssl_redirect):
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_prometheus_scrapes_metrics_over_plain_http(client, ssl_redirect, settings):
    settings.METRICS_TOKEN = "scrape-token"

    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})

    assert response.status_code == 200


@pytest.mark.django_db
def test_a_request_the_proxy_marks_as_https_is_not_redirected(client, ssl_redirect, settings):
    settings.SECURE_PROXY_SSL_HEADER = proxy_ssl_header("X-Forwarded-Proto=https")

    response = client.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200


@pytest.fixture
def sent_mail(settings, tmp_path):
    """Development's file email backend, with one message already sent."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.MAIL_DIR = tmp_path / "mail"
    settings.MAIL_DIR.mkdir()
    (settings.MAIL_DIR / "1.log").write_text("Subject: Welcome, alice\n\nYour link: secret-1")


@pytest.fixture
def development(settings, sent_mail):
    settings.DEBUG = True


@pytest.mark.django_db
@pytest.mark.parametrize("who", [None, "bob", "staff"])
def test_the_mail_page_cannot_be_reached_when_debug_is_off(client, sent_mail, request, who):
    if who:
        client.force_login(request.getfixturevalue(who))

    response = client.get(reverse("dev-mail"))

    assert response.status_code == 404
    assert b"secret-1" not in response.content


@pytest.mark.django_db
def test_in_development_anonymous_visitors_are_sent_to_log_in_for_the_mail(client, development):
    response = client.get(reverse("dev-mail"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_in_development_people_who_are_not_staff_cannot_read_the_mail(client, development, bob):
    client.force_login(bob)

    response = client.get(reverse("dev-mail"))

    assert response.status_code == 403
    assert b"secret-1" not in response.content


@pytest.mark.django_db
def test_in_development_staff_read_every_sent_message(client, development, staff):
    client.force_login(staff)

    response = client.get(reverse("dev-mail"))

    assert response.status_code == 200
    assert b"secret-1" in response.content
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "linked"), [("bob", False), ("staff", True)])
def test_in_development_the_home_page_links_the_mail_for_staff_only(
    client, development, request, who, linked
):
    client.force_login(request.getfixturevalue(who))

    response = client.get("/")

    assert (reverse("dev-mail").encode() in response.content) is linked


@pytest.mark.django_db
def test_in_development_the_mailbox_lists_emails_by_subject_and_recipient_and_keeps_notices(
    client, development, staff, settings
):
    from django.core.mail import get_connection, send_mail

    settings.EMAIL_FILE_PATH = str(settings.MAIL_DIR)
    with get_connection() as connection:  # the file backend writes both to one file
        for subject, to in [("Welcome, bob", "bob@example.com"), ("Digest", "al@example.com")]:
            send_mail(subject, "Hello", "site@example.com", [to], connection=connection)
    client.force_login(staff)
    client.post(reverse("accounts:profile"), {"digest_opt_in": "on"})  # queues "Saved."

    page = client.get(reverse("dev-mail")).content.decode()

    assert "<strong>Digest</strong> to al@example.com" in page
    assert "<strong>Welcome, bob</strong> to bob@example.com" in page
    assert page.index("Digest") < page.index("Welcome, bob")  # newest first
    assert '<p class="flash info">Saved.</p>' in page  # the site's notice, not the mail
    assert "&#x27;body&#x27;" not in page  # no email printed as a dict
