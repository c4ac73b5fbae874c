"""`make run`'s supervisor (config/supervisor.py), driven as a real process.

Each test writes a Procfile of cheap stand-ins (STAND_IN below): a web server, workers that
do RQ's warm shutdown on SIGTERM, a process that crashes at once. Every stand-in appends what
happens to it to an events file, `<role> <pid> <event> <time>`, which is how the tests see
who got which signal, and in what order.
"""

import contextlib
import itertools
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from config import devrun
from config.redis_server import free_port
from config.supervisor import expand

ROOT = Path(__file__).resolve().parent.parent

STAND_IN = """
import http.server, os, signal, subprocess, sys, time
from pathlib import Path

events, role = Path(sys.argv[1]), sys.argv[2]


def record(event):
    with events.open("a") as file:
        file.write(f"{role} {os.getpid()} {event} {time.time()}\\n")


def exit_on_sigterm(signum, frame):
    record("SIGTERM")
    sys.exit(0)


record("started")
if role == "web":  # serves HTTP on the port given
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    address = ("127.0.0.1", int(sys.argv[3]))
    http.server.HTTPServer(address, http.server.SimpleHTTPRequestHandler).serve_forever()
elif role == "worker":  # like RQ: the first SIGTERM lets the job (sys.argv[3] s) finish
    # A process in the worker's group, as RQ's scheduler process is: it must get no SIGTERM.
    subprocess.Popen([sys.executable, __file__, str(events), "member", str(os.getpid())])
    job_done_at = None

    def warm_then_cold(signum, frame):
        global job_done_at
        record("SIGTERM")
        if job_done_at is None:
            print("warm shutdown", flush=True)
            job_done_at = time.monotonic() + float(sys.argv[3])
        else:
            print("cold shutdown", flush=True)
            job_done_at = 0

    signal.signal(signal.SIGTERM, warm_then_cold)
    while job_done_at is None or time.monotonic() < job_done_at:
        time.sleep(0.05)
    record("exited")
elif role == "member":  # lives as long as its parent
    signal.signal(signal.SIGTERM, lambda signum, frame: record("SIGTERM"))
    # The parent's pid comes from the parent: one that died before this line ran would
    # leave getppid() at 1 here, and this process running for good.
    parent = int(sys.argv[3])
    while os.getppid() == parent:
        time.sleep(0.05)
elif role == "stubborn":  # ignores SIGTERM
    signal.signal(signal.SIGTERM, lambda signum, frame: record("SIGTERM"))
    while True:
        time.sleep(0.05)
elif role == "crash":
    sys.exit(3)
else:  # scheduler, sweeper: stop on SIGTERM
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    while True:
        time.sleep(0.05)
"""


def wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


class Supervised:
    """`python -m config.supervisor` on a Procfile of stand-ins, with its log and events."""

    def __init__(self, directory, lines, concurrency, env):
        script, self.events_file = directory / "stand_in.py", directory / "events"
        script.write_text(STAND_IN)
        self.events_file.touch()
        procfile = directory / "Procfile"
        prefix = f"{shlex.quote(sys.executable)} {script} {self.events_file}"
        procfile.write_text("".join(f"{name}: {prefix} {role}\n" for name, role in lines.items()))
        self.port = free_port()
        self.log = directory / "supervisor.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "config.supervisor"),
                    *(f"--procfile={procfile}", f"--concurrency={concurrency}"),
                ],
                cwd=ROOT,
                env={**os.environ, "PORT": str(self.port), **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self):
        return self.log.read_text()

    def events(self):
        lines = self.events_file.read_text().splitlines()
        return [
            (role, int(pid), event, float(at)) for role, pid, event, at in map(str.split, lines)
        ]

    def pids(self, name):
        """The PIDs `name` (e.g. worker.1) was started with, in order."""
        return [
            int(pid)
            for pid in re.findall(rf"{re.escape(name)} started \(pid=(\d+)\)", self.output())
        ]

    def web_answers(self):
        """Whether the web stand-in answers; it says it started just before it listens."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1) as response:
                return response.status == 200
        except OSError:  # URLError, connection refused or reset
            return False

    def wait_until_up(self, *names):
        """Until each of `names` has been started and its stand-in has recorded so."""

        def up():
            started = {pid for _, pid, event, _ in self.events() if event == "started"}
            return all(self.pids(name) and self.pids(name)[-1] in started for name in names)

        wait_for(up)


def kill_stand_ins(script):
    """SIGKILL every process running `script`: stand-ins have sessions of their own, and
    outlive a supervisor killed with SIGKILL."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):  # gone meanwhile
            if bytes(script) in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGKILL)


@pytest.fixture
def supervise(tmp_path):
    runs = []

    def start(concurrency="", env=None, **lines):
        runs.append(Supervised(tmp_path, lines, concurrency, env or {}))
        return runs[-1]

    yield start
    for run in runs:
        run.process.kill()  # first, so that it starts nothing more
        run.process.wait()
    kill_stand_ins(tmp_path / "stand_in.py")


def test_it_restarts_a_worker_killed_with_sigkill_and_leaves_the_rest_running(supervise):
    run = supervise(web="web $PORT", worker="worker 0", concurrency="worker=2")
    run.wait_until_up("web.1", "worker.1", "worker.2")
    [killed], [other], [web] = run.pids("worker.1"), run.pids("worker.2"), run.pids("web.1")
    wait_for(run.web_answers)

    os.killpg(killed, signal.SIGKILL)  # the worker and everything in its group

    replacement = wait_for(lambda: run.pids("worker.1")[1:])[0]
    assert replacement != killed
    os.kill(replacement, 0)  # it runs
    assert f"worker.1 was killed by SIGKILL (pid={killed}); restarting in 1 s" in run.output()
    assert run.pids("worker.2") == [other]
    assert run.pids("web.1") == [web]
    assert run.web_answers()


def test_ctrl_c_stops_the_workers_first_with_sigterm_to_their_own_pid_and_the_web_last(
    supervise,
):
    run = supervise(
        web="web $PORT",
        worker="worker 0.5",
        scheduler="scheduler",
        sweeper="sweeper",
        concurrency="worker=2",
    )
    run.wait_until_up("web.1", "worker.1", "worker.2", "scheduler.1", "sweeper.1")
    wait_for(lambda: sum(role == "member" for role, *_ in run.events()) == 2)
    workers = {*run.pids("worker.1"), *run.pids("worker.2")}

    run.process.send_signal(signal.SIGINT)

    assert run.process.wait(timeout=15) == 0
    stops = [(role, event) for role, _, event, _ in run.events() if event != "started"]
    # Each worker finishes its job before anything else is told to stop; no "member"
    # line: the SIGTERM went to the workers' PIDs, not to their process groups.
    assert stops == [
        ("worker", "SIGTERM"),
        ("worker", "SIGTERM"),
        ("worker", "exited"),
        ("worker", "exited"),
        ("sweeper", "SIGTERM"),
        ("scheduler", "SIGTERM"),
        ("web", "SIGTERM"),
    ]
    signalled = {pid for role, pid, event, _ in run.events() if event == "SIGTERM"}
    assert workers <= signalled
    assert re.search(r"^\d\d:\d\d:\d\d worker\.1 +\| warm shutdown$", run.output(), re.M)
    assert len(run.pids("worker.1")) == len(run.pids("worker.2")) == 1  # no restarts


def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace_period(supervise):
    run = supervise(web="web $PORT", worker="stubborn", env={"SHUTDOWN_GRACE_SECONDS": "2"})
    run.wait_until_up("web.1", "worker.1")
    [worker] = run.pids("worker.1")

    began = time.monotonic()
    run.process.send_signal(signal.SIGTERM)

    assert run.process.wait(timeout=15) == 0
    assert 2 <= time.monotonic() - began < 6
    assert "worker.1 still running: SIGKILL to its group" in run.output()
    assert f"worker.1 was killed by SIGKILL (pid={worker})" in run.output()
    stops = [(role, event) for role, _, event, _ in run.events() if event != "started"]
    assert stops == [("stubborn", "SIGTERM"), ("web", "SIGTERM")]


def test_a_second_ctrl_c_makes_the_workers_give_up_their_job(supervise):
    run = supervise(web="web $PORT", worker="worker 60")  # a job far longer than the test
    run.wait_until_up("web.1", "worker.1")

    run.process.send_signal(signal.SIGINT)
    wait_for(lambda: "warm shutdown" in run.output())
    run.process.send_signal(signal.SIGINT)

    assert run.process.wait(timeout=10) == 0
    assert "cold shutdown" in run.output()
    stops = [(role, event) for role, _, event, _ in run.events() if event != "started"]
    assert stops == [
        ("worker", "SIGTERM"),
        ("worker", "SIGTERM"),
        ("worker", "exited"),
        ("web", "SIGTERM"),
    ]


def test_a_process_that_dies_at_once_is_restarted_after_a_doubling_delay(supervise):
    run = supervise(web="web $PORT", crasher="crash")

    def starts():
        return [at for role, _, _, at in run.events() if role == "crash"]

    wait_for(lambda: len(starts()) >= 4, timeout=15)

    gaps = [later - earlier for earlier, later in itertools.pairwise(starts()[:4])]
    for delay, gap in zip([1, 2, 4], gaps, strict=True):
        assert delay <= gap < delay + 0.9, gaps
    restarts = re.findall(
        r"crasher\.1 exited with code 3 \(pid=\d+\); restarting in (\d+) s", run.output()
    )
    assert restarts[:3] == ["1", "2", "4"]
    assert len(run.pids("web.1")) == 1


def test_procfile_commands_take_variables_from_the_environment():
    command = "python manage.py runserver 127.0.0.1:$PORT --data '${DATA_DIR}/x'"

    argv = expand(command, {"PORT": "8000", "DATA_DIR": "/srv"})

    assert argv == ["python", "manage.py", "runserver", "127.0.0.1:8000", "--data", "/srv/x"]


def test_the_private_redis_of_make_run_is_out_of_reach_of_the_terminals_ctrl_c(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DEV_REDIS_PORT", str(free_port()))

    _, server = devrun.ensure_redis(tmp_path)
    try:
        # A session of its own: the terminal sends Ctrl-C to its foreground process group
        # only, so Redis waits for `make run` to stop it, after the workers.
        assert os.getsid(server.process.pid) == server.process.pid != os.getsid(0)
    finally:
        server.stop()
