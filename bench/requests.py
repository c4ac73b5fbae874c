"""Signup and upload requests under load: the queued design against doing the work inline.

Run: .venv/bin/python bench/requests.py          (BENCH_QUICK=1: fewer clients and requests)

Everything runs on loopback and is stopped by PID: a private redis-server, a slow SMTP
sink (this file, --smtp-sink: it waits 2 s before answering 250 to DATA), and gunicorn
(`gunicorn config.wsgi -w 2`, sync workers, as docker-compose runs it but with 2 workers)
with DJANGO_SETTINGS_MODULE=bench.bench_settings, a temporary DATA_DIR (SQLite, WAL) and
EMAIL_URL pointing at the sink. No RQ worker runs: the jobs wait in Redis, and what is
measured is what each design costs the request.

Versions (bench/bench_urls.py; every POST goes to a csrf_exempt wrapper, see there):

- signup: queued (the site's accounts.views.signup: user, profile and two job rows in one
  transaction, pushed to RQ on commit), inline (user and profile, then the welcome email
  sent over SMTP in the request), no-job (user and profile only), and a trivial view.
  Run twice: with the real password hasher (PBKDF2, which dominates a signup), and with
  BENCH_FAST_HASHER=1 (MD5, bench only) to show the rest of the request.
- upload: one synthetic 12 MP JPEG per POST, by clients logged in beforehand (sessions
  made in-process for bench users): queued (the site's uploads.views.upload), inline
  (make_variants in the request), no-job. The POST's own time is one client's p50; the
  naive in-process resize of the same file (bench/images.py's naive baseline) and
  make_variants are timed in this process in the same run.
"""

import os
import sys
from pathlib import Path

# Run as a script, bench/ would be first on the path and this file would be `requests`.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import http.client  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

from bench import loadgen  # noqa: E402
from bench.common import QUICK, ROOT, machine, private_redis, svg_bars, write_section  # noqa: E402

VENV_BIN = Path(sys.executable).parent
SMTP_DELAY = 2.0
PASSWORD = "plum-Orbit-4417-quartz"  # passes every AUTH_PASSWORD_VALIDATORS check


# --- processes --------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process {process.pid} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port} within {timeout}s")


def stop_process(process, timeout=15):
    """SIGTERM to the process's group (it was started in a session of its own), then KILL."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Stack:
    """A private redis-server, a temporary DATA_DIR, and (on demand) gunicorn and a slow
    SMTP sink; this process is set up as a Django process on the same settings."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-requests-"))
        self.redis = None
        self.smtp = None
        self.smtp_port = None
        self.gunicorn = None
        self.port = None

    def __enter__(self):
        try:
            self.redis = private_redis()
            self.smtp_port = free_port()
            with open(self.tmp / "smtp.log", "ab") as log:
                self.smtp = subprocess.Popen(
                    [
                        sys.executable,
                        str(_HERE / "requests.py"),
                        "--smtp-sink",
                        str(self.smtp_port),
                    ],
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            wait_for_port(self.smtp_port, self.smtp)
            os.environ.update(self.env())
            import django

            django.setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def env(self, **extra):
        return {
            "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
            "DATA_DIR": str(self.tmp / "data"),
            "REDIS_URL": self.redis.url,
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}",
            **extra,
        }

    def start_gunicorn(self, workers=2, **extra_env):
        self.stop_gunicorn()
        self.port = free_port()
        argv = [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            "--backlog",
            "2048",
            "--error-logfile",
            str(self.tmp / "gunicorn.log"),
        ]
        env = {**os.environ, **self.env(**extra_env)}
        self.gunicorn = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, self.gunicorn)
        # Every worker has imported the app once it answers a few requests in a row.
        for _ in range(20):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request("GET", "/bench/ok/")
            assert conn.getresponse().status == 200, "trivial view did not answer 200"
            conn.close()
        return self.port

    def stop_gunicorn(self):
        stop_process(self.gunicorn)
        self.gunicorn = None

    def gunicorn_log_tail(self, lines=20):
        log = self.tmp / "gunicorn.log"
        return (
            "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
        )

    def __exit__(self, *exc):
        self.stop_gunicorn()
        stop_process(self.smtp)
        if self.redis:
            self.redis.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(Path(self.redis.directory) if self.redis else "", ignore_errors=True)


def bench_users(prefix, count, **fields):
    """`count` users made with bulk_create (one password hash for all)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    password = make_password(PASSWORD)
    User.objects.bulk_create(
        User(username=f"{prefix}{n}", email=f"{prefix}{n}@bench.test", password=password, **fields)
        for n in range(count)
    )
    return list(User.objects.filter(username__startswith=prefix).order_by("pk"))


def session_cookie(user):
    """A logged-in session for `user`, made as django.contrib.auth.login would: the
    Cookie header value a client sends with it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def trivial_run(port, clients, *, duration=None, requests_per_client=None):
    return loadgen.run(
        "127.0.0.1",
        port,
        clients=clients,
        make_request=lambda c, i: ("GET", "/bench/ok/", None, {}),
        duration=duration,
        requests_per_client=requests_per_client,
        ok=lambda status: status == 200,
    )


# --- signup -----------------------------------------------------------------------------


def signup_run(port, version, *, clients, per_client, tag):
    url = {
        "queued": "/bench/signup/queued/",
        "inline": "/bench/signup/inline/",
        "no-job": "/bench/signup/nojob/",
    }[version]

    def make(client, i):
        name = f"{tag}-{version}-{client}-{i}".replace("-", "_")
        body = urlencode(
            {
                "username": name,
                "email": f"{name}@example.org",
                "password1": PASSWORD,
                "password2": PASSWORD,
            }
        ).encode()
        return "POST", url, body, {"Content-Type": "application/x-www-form-urlencoded"}

    return loadgen.run(
        "127.0.0.1",
        port,
        clients=clients,
        make_request=make,
        requests_per_client=per_client,
        ok=lambda status: status == 302,  # a form error is a 200: not a signup
    )


def signup_phase(stack, *, hasher, clients, per_client, inline_per_client, trivial_seconds):
    extra = {"BENCH_FAST_HASHER": "1"} if hasher == "md5" else {}
    port = stack.start_gunicorn(**extra)
    results = {}
    try:
        for version in ("queued", "no-job", "inline"):  # warm-up: each worker's first ones
            signup_run(port, version, clients=2, per_client=1, tag=f"warm{hasher}")
        for version, per in (
            ("queued", per_client),
            ("no-job", per_client),
            ("inline", inline_per_client),
        ):
            result = signup_run(port, version, clients=clients, per_client=per, tag=hasher)
            print(f"  signup {hasher} {version}: {result.summary()}", flush=True)
            if result.error_samples:
                print("    e.g.", result.error_samples[:2])
            results[version] = result
        results["trivial"] = trivial_run(port, clients, duration=trivial_seconds)
        print(f"  trivial ({hasher} run): {results['trivial'].summary()}", flush=True)
    finally:
        stack.stop_gunicorn()
    return results


# --- upload -----------------------------------------------------------------------------


BOUNDARY = "benchboundary7d1f0c"


def multipart_image(data, name="photo.jpg"):
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="images"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def upload_run(port, version, body, cookies, *, clients, per_client):
    url = {
        "queued": "/bench/upload/queued/",
        "inline": "/bench/upload/inline/",
        "no-job": "/bench/upload/nojob/",
    }[version]

    def make(client, i):
        return (
            "POST",
            url,
            body,
            {
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Accept": "application/json",
                "Cookie": cookies[client % len(cookies)],
            },
        )

    return loadgen.run(
        "127.0.0.1",
        port,
        clients=clients,
        make_request=make,
        requests_per_client=per_client,
        ok=lambda status: status == 202,
    )


def timed(fn, runs):
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def upload_phase(stack, *, clients, per_client, serial):
    from bench.images import naive_variants, synthetic_photo
    from uploads import imaging

    data = synthetic_photo()
    body = multipart_image(data)
    users = bench_users("uploader", clients)
    cookies = [session_cookie(user) for user in users]
    runs = 2 if QUICK else 3
    naive = timed(lambda: naive_variants(data), runs)
    chained = timed(lambda: imaging.make_variants(data), runs)
    print(
        f"  in-process: naive resize {naive * 1000:.0f} ms, make_variants {chained * 1000:.0f} ms"
    )
    port = stack.start_gunicorn()
    results = {}
    try:
        for version in ("queued", "inline", "no-job"):  # warm-up: each worker's first ones
            upload_run(port, version, body, cookies[:2], clients=2, per_client=1)
        for version in ("queued", "inline", "no-job"):
            one = upload_run(port, version, body, cookies[:1], clients=1, per_client=serial)
            many = upload_run(port, version, body, cookies, clients=clients, per_client=per_client)
            print(f"  upload {version}, 1 client: {one.summary()}", flush=True)
            print(f"  upload {version}, {clients} clients: {many.summary()}", flush=True)
            for result in (one, many):
                if result.error_samples:
                    print("    e.g.", result.error_samples[:2])
            results[version] = (one, many)
    finally:
        stack.stop_gunicorn()
    return results, naive, chained, len(data)


# --- the SMTP sink ----------------------------------------------------------------------


def smtp_sink(port, delay=SMTP_DELAY):
    """A tiny SMTP server that accepts everything, and takes `delay` s to accept DATA."""
    received = [0]

    async def handle(reader, writer):
        writer.write(b"220 bench-sink ESMTP\r\n")
        await writer.drain()
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-bench-sink\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                await writer.drain()
                while (await reader.readline()) not in (b".\r\n", b""):
                    pass
                await asyncio.sleep(delay)
                received[0] += 1
                writer.write(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve())
    finally:
        print(f"smtp sink: {received[0]} messages", flush=True)


# --- report -----------------------------------------------------------------------------


def ms(value):
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def report(signups, uploads, naive, chained, image_bytes, params):
    lines = [
        "## Requests: signup and upload, queued vs inline (bench/requests.py)",
        "",
        "```",
        ".venv/bin/python bench/requests.py" + ("   # BENCH_QUICK=1" if QUICK else ""),
        "```",
        "",
        f"gunicorn `config.wsgi -w 2` (sync workers), bench.bench_settings (DEBUG off, SQLite "
        f"WAL in a temporary DATA_DIR, private redis-server, no RQ worker running), on loopback; "
        f"the load generator (bench/loadgen.py, closed loop, one thread per client) runs on "
        f"the same {machine()}, so it takes CPU from the server too. "
        f"{params['clients']} concurrent clients. POSTs go to csrf_exempt wrappers "
        "(bench/bench_urls.py); the queued versions are the site's own views behind them.",
        "",
        "### Signup",
        "",
        f"Each client signs up {params['per_client']} new user(s) per version with PBKDF2, "
        f"{2 * params['per_client']} with MD5, {params['inline_per_client']} for inline "
        "(after a warm-up of 2 per version); inline sends the welcome email to an "
        f"SMTP sink that takes {SMTP_DELAY:.0f} s to answer DATA. Password hashing dominates "
        "a signup: Django 5.2's PBKDF2 (1,000,000 iterations) takes about half a second of "
        "CPU per hash here, and with 2 sync workers the other clients queue behind it, so "
        "the table also has a run with MD5 (BENCH_FAST_HASHER=1, bench only) to show the "
        "rest of the request.",
        "",
        "| hasher | version | p50 | p99 | requests/s | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for hasher, results in signups.items():
        for version in ("queued", "no-job", "inline", "trivial"):
            r = results[version]
            label = "trivial view (GET)" if version == "trivial" else version
            lines.append(
                f"| {hasher} | {label} | {ms(r.p50_ms)} | {ms(r.p99_ms)} | "
                f"{r.rps:,.1f} | {r.errors} |"
            )
    lines += ["", "Goals, signup:", ""]
    goals = []
    for hasher, results in signups.items():
        q, inline, nojob = results["queued"], results["inline"], results["no-job"]
        p99_ratio = q.p99_ms / inline.p99_ms
        p50_ratio = q.p50_ms / nojob.p50_ms
        goals.append(
            f"- {hasher}: queued p99 / inline p99 = {p99_ratio:.3f} "
            f"(goal at most 0.050: {'met' if p99_ratio <= 0.05 else 'NOT met'}); "
            f"queued p50 / no-job p50 = {p50_ratio:.2f}x "
            f"(goal at most 1.10x: {'met' if p50_ratio <= 1.1 else 'NOT met'})."
        )
    lines += goals
    queued_one = uploads["queued"][0]
    own = queued_one.p50_ms / 1000
    lines += [
        "",
        "### Upload",
        "",
        f"One synthetic 12 MP JPEG ({image_bytes / 2**20:.1f} MiB, bench/images.py) per "
        f"POST, by clients logged in beforehand (a session per bench user, made in-process "
        f"the way login() makes it). One client: {params['serial']} POSTs in a row, the POST's "
        f"own time; then {params['clients']} clients x {params['upload_per_client']} POSTs.",
        "",
        "| version | 1 client p50 | p50 | p99 | requests/s | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for version, (one, many) in uploads.items():
        lines.append(
            f"| {version} | {ms(one.p50_ms)} | {ms(many.p50_ms)} | {ms(many.p99_ms)} | "
            f"{many.rps:,.1f} | {one.errors + many.errors} |"
        )
    ratio = own / naive
    inline_many, queued_many = uploads["inline"][1], uploads["queued"][1]
    lines += [
        "",
        f"In this process, same run, same file: naive resize (full decode, each variant from "
        f"the original) {naive * 1000:,.0f} ms; make_variants {chained * 1000:,.0f} ms.",
        "",
        "Goals, upload:",
        "",
        f"- the queued POST's own time / naive in-process resize = {own * 1000:,.0f} / "
        f"{naive * 1000:,.0f} ms = {ratio:.3f} (goal at most 0.100: "
        f"{'met' if ratio <= 0.1 else 'NOT met'}).",
        f"- under {params['clients']} clients, queued p99 / inline p99 = "
        f"{queued_many.p99_ms / inline_many.p99_ms:.3f}.",
    ]
    bars = [(f"signup queued ({h})", r["queued"].p99_ms / 1000) for h, r in signups.items()]
    bars += [(f"signup inline ({h})", r["inline"].p99_ms / 1000) for h, r in signups.items()]
    bars += [(f"signup no-job ({h})", r["no-job"].p99_ms / 1000) for h, r in signups.items()]
    bars += [(f"upload {v}", many.p99_ms / 1000) for v, (_, many) in uploads.items()]
    chart = svg_bars(f"p99 latency, {params['clients']} clients", bars, unit="s")
    write_section("requests", "\n".join(lines), chart=chart)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smtp-sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["signup", "upload"])
    args = parser.parse_args()
    if args.smtp_sink:
        return smtp_sink(args.smtp_sink)
    clients = 50
    params = {
        "clients": clients,
        "per_client": 1 if QUICK else 2,
        "inline_per_client": 1,
        "upload_per_client": 1 if QUICK else 2,
        "serial": 3 if QUICK else 10,
    }
    hashers = ["md5"] if QUICK else ["pbkdf2", "md5"]
    if QUICK:
        params["clients"] = clients = 10
    with Stack() as stack:
        signups, uploads = {}, {}
        if args.only in (None, "signup"):
            for hasher in hashers:
                print(f"signup, {hasher}:", flush=True)
                signups[hasher] = signup_phase(
                    stack,
                    hasher=hasher,
                    clients=clients,
                    per_client=params["per_client"] * (2 if hasher == "md5" else 1),
                    inline_per_client=params["inline_per_client"],
                    trivial_seconds=2 if QUICK else 5,
                )
        if args.only in (None, "upload"):
            print("upload:", flush=True)
            uploads, naive, chained, size = upload_phase(
                stack,
                clients=clients,
                per_client=params["upload_per_client"],
                serial=params["serial"],
            )
        if args.only is None:
            report(signups, uploads, naive, chained, size, params)


if __name__ == "__main__":
    main()
