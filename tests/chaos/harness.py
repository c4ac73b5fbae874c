"""The fault suite's harness: real processes, started the way production starts them, and
broken on purpose by PID.

A Stack is one private deployment: redis-server with AOF; an SMTP sink (smtp_server.py)
that records each message it accepts; optionally an S3 endpoint (moto's server behind a
TCP forwarder, tcp_proxy.py, so that an outage loses no stored object); N RQ workers
started from the Procfile's `worker` line; the sweeper from its `sweeper` line; and
optionally the web server from its `web` line. Every process runs in a session of its
own, so that a fault reaches exactly the process it names, and so that close() can find
and kill everything a process left behind (work horses live in process groups of their
own, but never leave their session).

Like `make run`'s supervisor and compose's restart policy, the Stack replaces a worker
that exits, whether a test killed it or it quit by itself (RQ workers quit when Redis
goes away under them), after RESTART_SECONDS. Tests that stop the tier on purpose pause
that with `unsupervised()`.

Nothing here sleeps to decide an outcome: wait_until() polls a condition against a
deadline. The only fixed waits are the lengths of outages, which are the faults themselves.

The figures each test records (report()) are:

    case                the test's name for its fault
    jobs, completed     submitted, and finished at the end
    recovered           rows that needed another attempt, or that the sweeper touched
    seconds_to_recover  from the end of the fault (the kill, or the service being back)
                        to every affected job finished
    duplicates          side effects received more than once (emails by recipient)
    emails, objects     side effects counted by the real SMTP and S3 servers
"""

import contextlib
import http.cookiejar
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import boto3
import redis
from django.conf import settings

from config.redis_server import RedisServer, free_port

CHAOS_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(settings.BASE_DIR)
PROCFILE = BASE_DIR / "Procfile"
BUCKET = "chaos-photos"
LOG_TAIL_LINES = 40
# make run's supervisor waits 1 s and doubles the wait for a worker that keeps dying
# quickly; a fixed second keeps outage tests short and their figures comparable.
RESTART_SECONDS = 1

# Short enough that a test sees a dead worker, a retry and a sweep within seconds.
CHILD_ENV = {
    "JOBS_WORKER_TTL": "3",
    "JOBS_SWEEP_INTERVAL": "1",
    "JOB_RETRY_BASE_SECONDS": "1",
    # The limiter is tested elsewhere; here it must never be the reason a job waits.
    "EMAIL_RATE_LIMIT": "1000000",
    "EMAIL_RATE_WINDOW_SECONDS": "60",
    "PYTHONUNBUFFERED": "1",
    "LOG_LEVEL": "INFO",
}


# Waiting -------------------------------------------------------------------------------


def wait_until(condition, *, timeout, message="", interval=0.1):
    """Poll condition() until it returns something truthy, and return that.

    Raises AssertionError after `timeout` seconds; `message` may be a callable, evaluated
    only then, to describe what the test saw.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = message() if callable(message) else message
            raise AssertionError(f"not within {timeout}s: {detail}")
        time.sleep(interval)


# Processes -----------------------------------------------------------------------------


def procfile_command(process_type, **variables):
    """The argv of a Procfile line, `python` replaced by this interpreter, $VARs filled."""
    for line in PROCFILE.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            break
    else:
        raise LookupError(f"no {process_type!r} line in {PROCFILE}")
    argv = [
        re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: str(variables[m[1] or m[2]]), word)
        for word in shlex.split(command)
    ]
    if argv[0] == "python":
        argv[0] = sys.executable
    return argv


def proc_stat(pid):
    """(state, ppid, pgid, sid) of a process from /proc, or None if there is none."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def is_running(pid):
    """True while `pid` exists and is not a zombie (a zombie runs no code)."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _all_pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def children_of(pid):
    return [child for child in _all_pids() if (stat := proc_stat(child)) and stat[1] == pid]


def session_members(sid):
    return [pid for pid in _all_pids() if (stat := proc_stat(pid)) and stat[3] == sid]


class Process:
    """One child process in a session of its own, its output in a log file."""

    def __init__(self, name, argv, *, env, log_dir, cwd=BASE_DIR):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.log_path = Path(log_dir) / f"{name}.log"
        self.popen = None

    def start(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def wait(self, timeout):
        """Wait for the process to exit; True if it did."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill_session(self):
        """SIGKILL everything left in this process's session: itself, its work horses in
        their own process groups, and children it orphaned."""
        if self.popen is None:
            return
        for pid in session_members(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.wait(10)

    def stop(self, timeout=5):
        """SIGTERM to the group, then SIGKILL to whatever of the session remains."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            self.wait(timeout)
        self.kill_session()

    def tail(self, lines=LOG_TAIL_LINES):
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def kill_group(process, sig=signal.SIGKILL):
    """Send `sig` to the process's whole group (what `kill -9 -PGID` does) and reap it."""
    os.killpg(process.pid, sig)
    assert process.wait(10), f"{process.name} survived {sig!r}"


def kill_parent_only(process, sig=signal.SIGKILL):
    """Send `sig` to the process alone, not to its children, and reap it."""
    os.kill(process.pid, sig)
    assert process.wait(10), f"{process.name} survived {sig!r}"


# The deployment ------------------------------------------------------------------------


def children_database_url():
    """The URL of the test database, for processes that open it themselves."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


class Stack:
    """A private deployment of the whole system, every part a real process."""

    def __init__(
        self, directory, *, workers=2, web=False, s3=False, supervise=True, worker_class=None
    ):
        self.directory = Path(directory)
        self.worker_class = worker_class  # None: the Procfile's
        self.supervise = supervise
        self.log_dir = self.directory / "logs"
        self.mail_file = self.directory / "mail.jsonl"
        self.n_workers, self.with_web, self.with_s3 = workers, web, s3
        self.redis_server = RedisServer(self.directory / "redis", appendonly=True)
        self.smtp_port = free_port()
        self.web_port = free_port()
        self.s3_port, self.moto_port = free_port(), free_port()
        self.workers = []  # every worker ever started, dead ones too
        self.processes = []  # everything to stop at the end, redis-server aside
        self.smtp = self.sweeper = self.web = self.moto = self.s3_endpoint = None
        self.restarts = 0  # workers the supervisor started to replace one that exited
        self._lock = threading.Lock()
        self._supervising = threading.Event()
        self._closing = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    # Starting

    def start(self):
        self.redis_server.start()
        self.start_smtp()
        if self.with_s3:
            self.start_s3()
        started = [self.start_worker(wait=False) for _ in range(self.n_workers)]
        for worker in started:
            self.worker_name(worker)
        self.sweeper = self._spawn("sweeper", procfile_command("sweeper"))
        if self.with_web:
            self.start_web()
        if self.supervise:
            self._supervising.set()
            self._supervisor.start()
        return self

    def _supervise(self):
        """Replace each worker that exits, as the supervisor does in production."""
        while not self._closing.wait(0.1):
            if not self._supervising.is_set():
                continue
            with self._lock:
                exited = [w for w in self.workers if not w.alive() and not w.replaced]
            for worker in exited:
                worker.replaced = True
                if self._closing.wait(RESTART_SECONDS):
                    return
                if self._supervising.is_set():  # not paused meanwhile
                    self.start_worker(wait=False)
                    self.restarts += 1

    @contextlib.contextmanager
    def unsupervised(self):
        """Workers that exit in this block stay down (a deliberate stop of the tier)."""
        self._supervising.clear()
        try:
            yield
        finally:
            with self._lock:
                for worker in self.workers:
                    worker.replaced = worker.replaced or not worker.alive()
            if self.supervise:
                self._supervising.set()

    def env(self):
        env = {
            **os.environ,
            **CHILD_ENV,
            "DATABASE_URL": children_database_url(),
            "REDIS_URL": self.redis_server.url,
            "DATA_DIR": str(self.directory),
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}",
        }
        # Whatever the shell that runs the tests points at, the children use this Stack.
        for name in ("REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "AWS_STORAGE_BUCKET_NAME"):
            env.pop(name, None)
        if self.with_s3:
            env.update(
                AWS_STORAGE_BUCKET_NAME=BUCKET,
                AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{self.s3_port}",
                AWS_ACCESS_KEY_ID="chaos",
                AWS_SECRET_ACCESS_KEY="chaos",
                AWS_S3_REGION_NAME="us-east-1",
            )
        return env

    def _spawn(self, name, argv):
        with self._lock:
            return self._spawn_unlocked(name, argv)

    def _spawn_unlocked(self, name, argv):
        process = Process(name, argv, env=self.env(), log_dir=self.log_dir).start()
        self.processes.append(process)
        return process

    def start_worker(self, *, wait=True):
        with self._lock:
            name = f"worker-{len(self.workers)}"
            worker = self._spawn_unlocked(name, self.worker_command())
            worker.rq_name, worker.replaced = None, False
            self.workers.append(worker)
        if wait:
            self.worker_name(worker)
        return worker

    def worker_command(self):
        """The Procfile's worker line, with another --worker-class if the test asked."""
        argv = procfile_command("worker")
        if self.worker_class:
            argv[argv.index("--worker-class") + 1] = self.worker_class
        return argv

    def worker_name(self, worker, timeout=30):
        """The RQ name of a worker process, read from its registration in Redis."""

        def registered():
            assert worker.alive(), f"{worker.name} exited:\n{worker.tail()}"
            for key in self.redis.smembers("rq:workers"):
                if self.redis.hget(key, "pid") == str(worker.pid).encode():
                    return key.decode().removeprefix("rq:worker:")
            return None

        if worker.rq_name is None:
            worker.rq_name = wait_until(
                registered, timeout=timeout, message=lambda: worker.tail(), interval=0.2
            )
        return worker.rq_name

    def live_workers(self):
        with self._lock:
            return [worker for worker in self.workers if worker.alive()]

    def start_smtp(self, *, refuse=False):
        argv = [sys.executable, str(CHAOS_DIR / "smtp_server.py"), "--port", str(self.smtp_port)]
        argv += ["--out", str(self.mail_file), *(["--refuse"] if refuse else [])]
        self.smtp = self._spawn("smtp", argv)
        wait_until(lambda: _port_answers(self.smtp_port), timeout=15, message=self.smtp.tail)
        return self.smtp

    def start_s3(self):
        """moto's S3 server, and the forwarder in front of it that the workers are given."""
        if self.moto is None:
            argv = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1"]
            self.moto = self._spawn("moto", [*argv, "-p", str(self.moto_port)])
            wait_until(lambda: _port_answers(self.moto_port), timeout=30, message=self.moto.tail)
            self.s3_client().create_bucket(Bucket=BUCKET)
        self.start_s3_endpoint()

    def start_s3_endpoint(self):
        argv = [sys.executable, str(CHAOS_DIR / "tcp_proxy.py"), "--port", str(self.s3_port)]
        self.s3_endpoint = self._spawn("s3-endpoint", [*argv, "--to", str(self.moto_port)])
        wait_until(lambda: _port_answers(self.s3_port), timeout=15, message=self.s3_endpoint.tail)
        return self.s3_endpoint

    def start_web(self):
        self.web = self._spawn("web", procfile_command("web", PORT=self.web_port))
        wait_until(lambda: _port_answers(self.web_port), timeout=30, message=self.web.tail)
        return self.web

    # Redis

    @property
    def redis(self):
        return redis.Redis.from_url(self.redis_server.url, socket_timeout=5)

    def kill_redis(self):
        """kill -9 the redis-server, by PID."""
        process = self.redis_server.process
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def restart_redis(self):
        """Start redis-server again on the same port, with the same directory (its AOF)."""
        self.redis_server = RedisServer(
            self.redis_server.directory, port=self.redis_server.port, appendonly=True
        ).start()

    # What the real servers received

    def emails(self):
        try:
            lines = self.mail_file.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def recipients(self):
        return [to for email in self.emails() for to in email["to"]]

    def s3_client(self):
        """A client that talks to moto directly, so it works while the endpoint is down."""
        return boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.moto_port}",
            aws_access_key_id="chaos",
            aws_secret_access_key="chaos",
            region_name="us-east-1",
        )

    def s3_keys(self):
        keys, pages = [], self.s3_client().get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=BUCKET):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def sweeper_actions(self):
        """[(action, job id)] from the sweeper's log: pushed, recovered, repushed, ..."""
        pattern = r"sweep (\w+) id=([0-9a-f-]{36})"
        return re.findall(pattern, self.sweeper.log()) if self.sweeper else []

    def repush_reasons(self):
        """{reason: count} of the sweeper's "repushed" lines (lost, worker-died, ...)."""
        log = self.sweeper.log() if self.sweeper else ""
        return dict(Counter(re.findall(r"sweep repushed id=\S+ kind=\S+ reason=(\S+)", log)))

    # Stopping

    def close(self, *, show_logs=False):
        self._closing.set()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=RESTART_SECONDS + 5)
        if show_logs:
            for process in self.processes:
                print(f"----- {process.name} (pid {process.pid}) {process.log_path}")
                print(process.tail())
        # Workers first, so that nothing they need disappears under a running job.
        ordered = sorted(self.processes, key=lambda process: not process.name.startswith("worker"))
        for process in ordered:
            process.stop()
        self.redis_server.stop()


def _port_answers(port):
    import socket

    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


# A browser without a browser -----------------------------------------------------------


class WebClient:
    """A cookie-keeping HTTP client for the real web server: one person's browser."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, path, *, data=None, headers=None, timeout=30):
        """(status, final URL, body); redirects are followed like a browser does."""
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.geturl(), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read()

    def csrf_token(self):
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def signup(self, username, email, password):
        """Sign up through the form; returns the welcome job's id (the page we land on)."""
        self.username = username
        status, _, body = self.request("/accounts/signup/")
        assert status == 200, body[:500]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1].decode()
        form = {
            "csrfmiddlewaretoken": token,
            "username": username,
            "email": email,
            "password1": password,
            "password2": password,
        }
        status, url, body = self.request(
            "/accounts/signup/", data=urllib.parse.urlencode(form).encode()
        )
        job = re.search(r"/jobs/([0-9a-f-]{36})/$", url)
        assert status == 200 and job, f"signup answered {status} at {url}: {body[:500]!r}"
        return job[1]

    def upload(self, files):
        """POST /photos/upload/ as a JSON client; returns the 202 body."""
        boundary = uuid.uuid4().hex
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="images"; '
            f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + data
            + b"\r\n"
            for name, data in files
        )
        body += f"--{boundary}--\r\n".encode()
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Accept": "application/json",
            "X-CSRFToken": self.csrf_token(),
            "Referer": self.base_url + "/photos/upload/",
        }
        status, _, answer = self.request("/photos/upload/", data=body, headers=headers)
        assert status == 202, f"upload answered {status}: {answer[:500]!r}"
        return json.loads(answer)

    def get_json(self, path):
        status, _, body = self.request(path)
        assert status == 200, f"GET {path} answered {status}: {body[:300]!r}"
        return json.loads(body)


# Batches of jobs -----------------------------------------------------------------------

SHORT, LONG = 0.05, 2.0  # seconds of work per deliver job
# Generous, with JOB_RETRY_BASE_SECONDS=1: 1, 2, 4 ... 128 s, so that every outage here
# is ridden out by retries and none of them is what makes a job fail.
RETRIES = 8


def submit_deliveries(count, *, seconds=SHORT, long_every=None, first=0):
    """Record `count` deliver jobs in one transaction; they reach Redis when it commits.

    Every `long_every`-th job works for LONG seconds: a kill aimed at one of those while it
    is young is sure to land in its work, never between its email and its claim.
    """
    from django.db import transaction

    from tests.chaos.tasks import deliver

    def work(index):
        return LONG if long_every and index % long_every == 1 else seconds

    with transaction.atomic():
        return [
            deliver.using(retries=RETRIES).enqueue(index, work(index))
            for index in range(first, first + count)
        ]


def rows(records):
    from jobs.models import JobRecord

    return JobRecord.objects.filter(pk__in=[record.pk for record in records])


def finished_count(records):
    return rows(records).filter(status="finished").count()


def unfinished(records, limit=20):
    """What the rows that are not finished say, for a failure message."""
    left = rows(records).exclude(status="finished")
    return f"{left.count()} unfinished: " + repr(
        list(left.values_list("args", "status", "attempts", "stage")[:limit])
    )


def wait_until_finished(records, *, timeout=90):
    wait_until(
        lambda: finished_count(records) == len(records),
        timeout=timeout,
        message=lambda: unfinished(records),
        interval=0.2,
    )


def recovered_rows(records, stack):
    """Rows that needed another attempt, or that the sweeper had to touch."""
    ids = {str(record.pk) for record in records}
    touched = {job_id for _, job_id in stack.sweeper_actions()} & ids
    retried = {str(pk) for pk in rows(records).filter(attempts__gt=1).values_list("pk", flat=True)}
    return len(retried | touched)


def assert_every_email_arrived_once(stack, expected):
    """The SMTP server received one email for each of `expected` recipients, none twice."""
    received = stack.recipients()
    assert duplicates(received) == 0, sorted(received)
    assert sorted(received) == sorted(expected)
    return received


# Figures -------------------------------------------------------------------------------


def duplicates(items):
    """How many of `items` repeat an earlier one."""
    return sum(count - 1 for count in Counter(items).values())


def report(case, **figures):
    """Append one JSON line of figures to $CHAOS_REPORT (when set), and print it."""
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    line = json.dumps({"case": case, "database": database, **figures})
    print(line)
    if path := os.environ.get("CHAOS_REPORT"):
        with open(path, "a") as out:
            out.write(line + "\n")
