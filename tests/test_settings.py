"""Settings come from the environment; bad values stop start-up with a clear message."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import email_settings, redis_url_with_timeouts


def start_django(**env):
    clean = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_debug_a_missing_secret_key_stops_start_up_with_a_clear_message(tmp_path):
    result = start_django(DEBUG="false", DATA_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_with_a_secret_key_production_settings_load(tmp_path):
    result = start_django(DEBUG="false", SECRET_KEY="x" * 50, DATA_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://user:p%40ss@mail.example.com:2525",
            {
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "mail.example.com",
                "EMAIL_PORT": 2525,
                "EMAIL_HOST_USER": "user",
                "EMAIL_HOST_PASSWORD": "p@ss",
                "EMAIL_USE_TLS": False,
            },
        ),
        ("smtps://mail.example.com:587", {"EMAIL_USE_TLS": True, "EMAIL_PORT": 587}),
        ("smtp+ssl://mail.example.com:465", {"EMAIL_USE_SSL": True}),
        ("file:///srv/mail", {"EMAIL_FILE_PATH": "/srv/mail"}),
        ("file://", {"EMAIL_FILE_PATH": "/data/mail"}),
        ("console://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
    ],
)
def test_email_url_becomes_django_settings(url, expected):
    config = email_settings(url, "/data/mail")
    assert {key: config[key] for key in expected} == expected


def test_an_unknown_email_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL scheme 'pop3'"):
        email_settings("pop3://mail", "/data/mail")


def test_redis_urls_get_short_timeouts_unless_they_set_their_own():
    assert redis_url_with_timeouts("redis://h:6379/0") == (
        "redis://h:6379/0?socket_connect_timeout=1&socket_timeout=2"
    )
    assert "socket_timeout=9" in redis_url_with_timeouts("redis://h/0?socket_timeout=9")
