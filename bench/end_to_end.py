"""A photo from the upload's POST until every variant is in storage, on the real stack.

Run: .venv/bin/python bench/end_to_end.py          (BENCH_QUICK=1: fewer uploads)

Everything runs on loopback and is stopped by process group afterwards: a private
redis-server, SQLite in a temporary DATA_DIR (`manage.py migrate`), the web server as
production runs it (`gunicorn config.wsgi -b 127.0.0.1:<port> -w 2`, DEBUG off, HTTPS
redirect and secure cookies off because this is plain HTTP), and the workers as `make
run` starts them: the Procfile's `worker:` line, twice, and its `sweeper:` line once
(the recovery path: an upload whose publish step RQ left deferred after its resize
finished is released by the sweeper, within JOBS_SWEEP_INTERVAL; such uploads are
counted, and their times are in the figures). One user logs in through the
login form (CSRF token and session cookie), then POSTs the 12 MP JPEG of bench/images.py
to /photos/upload/ (field `images`, Accept: application/json, 202 with the photo's id).

An upload is done when its three variants are in the photo storage
(DATA_DIR/photos/photos/<owner>/<photo>/, polled every 10 ms with os.listdir, which
costs the stack nothing); /photos/<id>.json must then say "ready". Measured:

- idle: uploads one after another, each after the previous one is done;
- in flight: N uploads POSTed at once from N threads, each timed on its own;
- POST: the request's own time (the request reads only the header: it must not decode);
- naive: in this process, the naive full-size resize of the same file (bench/images.py),
  run between the idle uploads so that both see the same machine.
"""

import contextlib
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    QUICK,
    ROOT,
    Processes,
    machine,
    median,
    percentile,
    private_redis,
    svg_bars,
    write_section,
)

VENV_BIN = Path(sys.executable).parent
IDLE_UPLOADS = 3 if QUICK else 10
IN_FLIGHT = 5 if QUICK else 10
IN_FLIGHT_ROUNDS = 1 if QUICK else 2
NAIVE_RUNS = 3 if QUICK else 5
DONE_TIMEOUT = 120  # seconds for one upload to be done before the bench gives up
GOAL_RATIO = 0.5  # p50 at idle at most half the naive in-process resize
PASSWORD = "bench-password-" + secrets.token_hex(4)


def stack_env(redis_url, data_dir, **extra):
    """What every process of the stack gets: the app's settings, production-like."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": redis_url,
        "DATA_DIR": str(data_dir),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        # Production's rules (config/settings.py), minus what needs HTTPS.
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        **extra,
    }
    env.pop("DATABASE_URL", None)
    return env


def migrate(env):
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )


def start_workers(processes, env, count=2):
    """The Procfile's `worker:` line, `count` times, as config.supervisor starts it."""
    from config.supervisor import expand, read_procfile

    command = read_procfile(ROOT / "Procfile")["worker"]
    for number in range(1, count + 1):
        processes.start(f"worker.{number}", expand(command, env), env)
    return command


def start_sweeper(processes, env):
    """The Procfile's `sweeper:` line, as `make run` starts it."""
    from config.supervisor import expand, read_procfile

    command = read_procfile(ROOT / "Procfile")["sweeper"]
    processes.start("sweeper", expand(command, env), env)
    return command


def sweeper_actions(processes):
    """The sweeper's recoveries, one log line each: {reason: count}."""
    counts = {}
    for name, _, log in processes.children:
        if name == "sweeper" and log.exists():
            for reason in re.findall(r"sweep \w+ id=\S+ kind=\S+ reason=(\S+)", log.read_text()):
                counts[reason] = counts.get(reason, 0) + 1
    return counts


def free_port():
    from config.redis_server import free_port

    return free_port()


class Client:
    """A browser's session: a cookie jar, CSRF tokens from cookies, no keep-alive."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path, *, data=None, headers=None, timeout=60):
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        with self.opener.open(request, timeout=timeout) as response:
            return response.status, response.read()

    def csrf(self):
        return next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")

    def login(self, username, password):
        _, page = self.request("/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1].decode()
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        self.request("/accounts/login/", data=form, headers={"Referer": self.base + "/"})
        if not any(cookie.name == "sessionid" for cookie in self.jar):
            raise RuntimeError("login failed: no session cookie")
        self.request("/photos/upload/")  # the CSRF token rotates at login: take the new one

    def upload(self, name, data):
        """POST one image; return (photo id, seconds the POST took)."""
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="images"; filename="{name}"\r\n'.encode(),
                b"Content-Type: image/jpeg\r\n\r\n",
                data,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Accept": "application/json",
            "X-CSRFToken": self.csrf(),
            "Referer": self.base + "/photos/upload/",
        }
        began = time.perf_counter()
        status, payload = self.request("/photos/upload/", data=body, headers=headers)
        took = time.perf_counter() - began
        if status != 202:
            raise RuntimeError(f"upload answered {status}: {payload[:300]!r}")
        return json.loads(payload)["photos"][0]["id"], took

    def status(self, photo_id):
        return json.loads(self.request(f"/photos/{photo_id}.json")[1])


def wait_until(condition, timeout, what, processes=None, interval=0.2):
    deadline = time.monotonic() + timeout
    while not condition():
        if processes and (dead := processes.dead()):
            raise RuntimeError(f"{what}: process exited: {dead}\n{processes.tails()}")
        if time.monotonic() > deadline:
            tails = processes.tails() if processes else ""
            raise RuntimeError(f"{what}: not within {timeout} s\n{tails}")
        time.sleep(interval)


def http_answers(url):
    try:
        urllib.request.urlopen(url, timeout=1).close()
        return True
    except urllib.error.HTTPError:
        return True  # /healthz says 503 until a worker registers; the server is up
    except OSError:
        return False


def healthy(url):
    try:
        urllib.request.urlopen(url, timeout=1).close()
        return True
    except OSError:
        return False


class Uploader:
    """Times uploads from just before the POST until all variants are in storage."""

    def __init__(self, client, photos_dir, variant_names, processes):
        self.client = client
        self.photos_dir = photos_dir
        self.names = set(variant_names)
        self.processes = processes

    def published(self, photo_id):
        for owner in os.listdir(self.photos_dir) if self.photos_dir.exists() else []:
            folder = self.photos_dir / owner / photo_id
            with contextlib.suppress(FileNotFoundError):
                stems = {name.split(".")[0] for name in os.listdir(folder)}
                return self.names <= stems
        return False

    def one(self, data, name="photo.jpg"):
        """(seconds until done, seconds the POST took, photo id)."""
        began = time.perf_counter()
        photo_id, post = self.client.upload(name, data)
        deadline = began + DONE_TIMEOUT
        while not self.published(photo_id):
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"photo {photo_id} not done after {DONE_TIMEOUT} s: "
                    f"{self.client.status(photo_id)}\n{self.processes.tails()}"
                )
            time.sleep(0.01)
        return time.perf_counter() - began, post, photo_id

    def many(self, data, count):
        """`count` uploads POSTed at once from as many threads; their (done, post, id)."""
        results, errors = [None] * count, []
        start = threading.Barrier(count)

        def run(index):
            try:
                start.wait()
                results[index] = self.one(data, f"photo-{index}.jpg")
            except Exception as exc:  # reported below, after every thread is back
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    def check_ready(self, photo_ids):
        """Every photo's JSON says ready (publishing marks it just after the last file)."""
        for photo_id in photo_ids:
            wait_until(
                lambda photo_id=photo_id: self.client.status(photo_id)["status"] == "ready",
                30,
                f"photo {photo_id} ready",
                self.processes,
            )


def main():
    from bench.images import naive_variants, synthetic_photo
    from uploads.imaging import VARIANT_SIZES

    data = synthetic_photo()
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    data_dir = work / "data"
    server = private_redis()
    processes = Processes(work)
    try:
        env = stack_env(server.url, data_dir)
        migrate(env)
        os.environ.update({**env, "LOG_LEVEL": "WARNING"})
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from jobs.models import JobRecord
        from uploads.models import Photo

        get_user_model().objects.create_user("bench", "bench@example.com", PASSWORD)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        web = f"gunicorn config.wsgi -b 127.0.0.1:{port} -w 2"
        processes.start("web", [str(VENV_BIN / "gunicorn"), *web.split()[1:]], env)
        worker_command = start_workers(processes, env, 2)
        start_sweeper(processes, env)
        wait_until(lambda: http_answers(base + "/healthz"), 60, "web server up", processes)
        wait_until(lambda: healthy(base + "/healthz"), 60, "workers registered", processes)

        client = Client(base)
        client.login("bench", PASSWORD)
        uploader = Uploader(client, data_dir / "photos" / "photos", VARIANT_SIZES, processes)
        uploader.check_ready([uploader.one(data)[2]])  # warm-up: not counted

        print(f"idle: {IDLE_UPLOADS} uploads one after another, naive resize between them")
        idle, naive = [], []
        for index in range(max(IDLE_UPLOADS, NAIVE_RUNS)):
            if index < IDLE_UPLOADS:
                idle.append(uploader.one(data))
            if index < NAIVE_RUNS:
                began = time.perf_counter()
                naive_variants(data)
                naive.append(time.perf_counter() - began)
        uploader.check_ready([photo_id for *_, photo_id in idle])

        print(f"in flight: {IN_FLIGHT_ROUNDS} x {IN_FLIGHT} uploads at once")
        busy = []
        for _ in range(IN_FLIGHT_ROUNDS):
            round_ = uploader.many(data, IN_FLIGHT)
            uploader.check_ready([photo_id for *_, photo_id in round_])
            busy += round_

        failed = JobRecord.objects.filter(status=JobRecord.Status.FAILED).count()
        unpublished = Photo.objects.filter(published_at__isnull=True).count()
        if failed or unpublished:
            raise RuntimeError(f"{failed} failed jobs, {unpublished} unpublished photos")
        recovered = sweeper_actions(processes)
    except BaseException:
        print(f"logs kept in {work}")
        raise
    finally:
        processes.stop()
        server.stop()
    shutil.rmtree(work, ignore_errors=True)
    report(data, idle, busy, naive, web, worker_command, recovered)


def report(data, idle, busy, naive, web, worker_command, recovered):
    def ms(values, p):
        return percentile(values, p) * 1000

    idle_done = [done for done, _, _ in idle]
    busy_done = [done for done, _, _ in busy]
    posts_idle = [post for _, post, _ in idle]
    posts_busy = [post for _, post, _ in busy]
    naive_p50 = median(naive) * 1000
    ratio = ms(idle_done, 50) / naive_p50
    lines = [
        "## End to end: upload to every variant in storage",
        "",
        f"The real stack on loopback: a private redis-server, SQLite (WAL) in a temporary "
        f"DATA_DIR, `{web}` (DEBUG off), and the Procfile's worker line twice "
        f"(`{worker_command}`). A logged-in session POSTs the 12 MP JPEG of the images "
        f"section ({len(data) / 2**20:.1f} MiB) to /photos/upload/; the clock runs from just "
        "before the POST until the photo's three variants are in the photo storage (polled "
        "every 10 ms on disk; its /photos/<id>.json then says ready). Idle: "
        f"{len(idle)} uploads one after another. In flight: {IN_FLIGHT} uploads POSTed at "
        f"once from {IN_FLIGHT} threads, {IN_FLIGHT_ROUNDS} round(s). Naive: the naive "
        f"full-size resize of the same file in the bench's process ({len(naive)} runs, "
        f"between the idle uploads). One run, {machine()}.",
        "",
        "| case | uploads | p50 | p95 | POST p50 | POST p95 |",
        "|---|---:|---:|---:|---:|---:|",
        f"| idle | {len(idle)} | {ms(idle_done, 50):.0f} ms | {ms(idle_done, 95):.0f} ms "
        f"| {ms(posts_idle, 50):.0f} ms | {ms(posts_idle, 95):.0f} ms |",
        f"| {IN_FLIGHT} in flight | {len(busy)} | {ms(busy_done, 50):.0f} ms "
        f"| {ms(busy_done, 95):.0f} ms | {ms(posts_busy, 50):.0f} ms "
        f"| {ms(posts_busy, 95):.0f} ms |",
        f"| naive in-process resize | {len(naive)} | {naive_p50:.0f} ms "
        f"| {ms(naive, 95):.0f} ms | | |",
        "",
        f"- Goal: p50 at idle at most {GOAL_RATIO}x the naive resize: **{ratio:.2f}x, "
        f"{'met' if ratio <= GOAL_RATIO else 'not met'}**.",
        f"- The POST itself (upload of {len(data) / 2**20:.1f} MiB, header check, original "
        f"stored, rows and jobs recorded) takes {ms(posts_idle, 50):.0f} ms at idle: "
        f"{ms(posts_idle, 50) / naive_p50:.0%} of the naive resize; the request never "
        "decodes the image (uploads.forms reads the header only).",
        "- Sweeper recoveries during the run: "
        + (
            ", ".join(f"{count} ({reason})" for reason, count in recovered.items())
            + ": uploads whose publish job RQ kept deferred after their resize finished; "
            "each waited for the sweeper's next pass (JOBS_SWEEP_INTERVAL)."
            if recovered
            else "none."
        ),
    ]
    chart = svg_bars(
        "Upload to variants in storage, p50 (ms)",
        [
            ("idle", ms(idle_done, 50)),
            (f"{IN_FLIGHT} in flight", ms(busy_done, 50)),
            ("naive in-process resize", naive_p50),
            ("POST alone (idle)", ms(posts_idle, 50)),
        ],
        unit="ms",
    )
    write_section("end_to_end", "\n".join(lines), chart=chart)


if __name__ == "__main__":
    main()
