"""Bench-only settings: the app's own settings, production-like, with the bench's URLs.

DJANGO_SETTINGS_MODULE=bench.bench_settings. Everything comes from config.settings
(REDIS_URL, DATA_DIR, EMAIL_URL as the bench sets them), except:

- the login and signup rate limits are raised so that thousands of signups from one
  loopback address are not refused (the limit is still checked: its Redis round trips
  are part of every signup);
- DEBUG is off, as in production (no query log kept per request), but HTTPS redirect,
  HSTS and secure cookies are off: the bench talks plain HTTP on loopback;
- ROOT_URLCONF adds the bench's comparison views (bench/bench_urls.py) to the site's;
- BENCH_FAST_HASHER=1 swaps PBKDF2 for MD5, only to show what a signup costs apart from
  hashing its password. Never outside a benchmark.
"""

import os

for _name in (
    "SIGNUP_RATE_LIMIT",
    "SIGNUP_RATE_IP_LIMIT",
    "LOGIN_RATE_LIMIT",
    "LOGIN_RATE_IP_LIMIT",
):
    os.environ.setdefault(_name, "100000000")

from config.settings import *  # noqa: E402,F403

DEBUG = os.environ.get("BENCH_DEBUG") == "1"
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "bench.bench_urls"
# Django's default StaticFilesStorage: no collectstatic needed for {% static %}.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {**LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}  # noqa: F405

if os.environ.get("BENCH_FAST_HASHER") == "1":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# BENCH_CONN_MAX_AGE=<seconds>: how long the SQLite connection is kept across requests
# (the app's settings keep it 60 s; 0 measures what reconnecting per request costs).
if os.environ.get("BENCH_CONN_MAX_AGE"):
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])  # noqa: F405
