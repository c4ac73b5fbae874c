"""REDIS_SENTINELS and REDIS_SENTINEL_MASTER: every queue reaches Redis through the Sentinels.

The failover itself, with real Sentinels, is tests/chaos/test_failover.py.
"""

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django_rq.connection_utils import get_redis_connection
from redis.sentinel import SentinelConnectionPool

from config.settings import parse_sentinels, redis_sentinel_connection, redis_url_with_timeouts

DEFAULT_URL = redis_url_with_timeouts("redis://127.0.0.1:6379/0")
PRINT_RQ_QUEUES = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps(settings.RQ_QUEUES))"
)


def start_django(script="import django; django.setup()", **env):
    """Load the settings in a fresh process; Redis variables come only from `env`."""
    ours = {"REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"}
    clean = {key: value for key, value in os.environ.items() if key not in ours}
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of_a_process(**env):
    """RQ_QUEUES as a process started with this environment sees them."""
    result = start_django(PRINT_RQ_QUEUES, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sentinels_are_host_port_pairs():
    assert parse_sentinels("s1:26379, s2:26380,[::1]:26381") == [
        ("s1", 26379),
        ("s2", 26380),
        ("::1", 26381),
    ]


@pytest.mark.parametrize(
    "value", ["s1", "s1:", ":26379", "s1:port", "s1:26379,s2", "s1:70000", ","]
)
def test_a_malformed_sentinel_is_refused_with_the_expected_form(value):
    with pytest.raises(
        ImproperlyConfigured, match=r"REDIS_SENTINELS (entry .* is not host:port|names no Sentinel)"
    ):
        parse_sentinels(value)


def test_sentinels_without_a_master_name_are_refused():
    with pytest.raises(ImproperlyConfigured, match="REDIS_SENTINEL_MASTER is not"):
        redis_sentinel_connection("s1:26379", "", redis_url=DEFAULT_URL)


def test_the_sentinel_connection_keeps_the_urls_db_password_and_short_timeouts():
    url = redis_url_with_timeouts("redis://app:s%40cret@ignored-host:6379/3")

    config = redis_sentinel_connection("s1:26379,s2:26379", "photos", redis_url=url)

    assert config == {
        "SENTINELS": [("s1", 26379), ("s2", 26379)],
        "MASTER_NAME": "photos",
        "DB": 3,
        "PASSWORD": "s@cret",
        "SOCKET_TIMEOUT": 2.0,
        "CONNECTION_KWARGS": {"socket_connect_timeout": 1.0, "username": "app"},
        "SENTINEL_KWARGS": {"socket_connect_timeout": 1.0, "socket_timeout": 2.0},
    }


def test_timeouts_the_url_sets_itself_apply_to_the_sentinel_connection_too():
    url = redis_url_with_timeouts("redis://h/0?socket_timeout=9")

    config = redis_sentinel_connection("s1:26379", "photos", redis_url=url)

    assert config["SOCKET_TIMEOUT"] == 9.0
    assert config["SENTINEL_KWARGS"]["socket_timeout"] == 9.0


def test_django_rq_builds_a_sentinel_managed_connection_from_it():
    config = redis_sentinel_connection("s1:26379", "photos", redis_url=DEFAULT_URL)

    connection = get_redis_connection(config)  # lazy: nothing is contacted yet

    pool = connection.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "photos"
    assert pool.connection_kwargs["socket_timeout"] == 2.0
    assert pool.connection_kwargs["socket_connect_timeout"] == 1.0
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (sentinel["host"], sentinel["port"], sentinel["socket_timeout"]) == ("s1", 26379, 2.0)


def test_with_sentinels_set_every_queue_uses_them(tmp_path):
    queues = settings_of_a_process(
        DATA_DIR=str(tmp_path),
        REDIS_URL="redis://:pw@127.0.0.1:6379/2",
        REDIS_SENTINELS="s1:26379,s2:26379,s3:26379",
        REDIS_SENTINEL_MASTER="photos",
    )

    assert set(queues) == {"high", "default", "low"}
    for config in queues.values():
        assert "URL" not in config
        assert config["SENTINELS"] == [["s1", 26379], ["s2", 26379], ["s3", 26379]]
        assert (config["MASTER_NAME"], config["DB"], config["PASSWORD"]) == ("photos", 2, "pw")
        assert config["DEFAULT_TIMEOUT"] == 300


def test_without_sentinels_every_queue_uses_the_url(tmp_path):
    queues = settings_of_a_process(DATA_DIR=str(tmp_path), REDIS_SENTINEL_MASTER="photos")

    assert {config["URL"] for config in queues.values()} == {DEFAULT_URL}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"REDIS_SENTINELS": "s1:26379"},
            "REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not",
        ),
        (
            {"REDIS_SENTINELS": "s1:26379,s2", "REDIS_SENTINEL_MASTER": "photos"},
            "REDIS_SENTINELS entry 's2' is not host:port",
        ),
    ],
)
def test_a_bad_sentinel_setting_stops_start_up_with_a_clear_message(tmp_path, env, message):
    result = start_django(DATA_DIR=str(tmp_path), **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
