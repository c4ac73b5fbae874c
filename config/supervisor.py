"""A small process supervisor for `make run`: the Procfile's processes, each restarted alone.

honcho, which `make run` used before, stops every process as soon as one exits: one worker
killed with `kill -9` took the web server, the scheduler and the other workers down with it.
RQ's own `rq worker-pool` respawns dead workers, but it runs nothing else. This supervisor runs
every Procfile line, restarts whatever exits by itself after a short backoff, and on Ctrl-C or
SIGTERM stops everything in STOP_ORDER, giving each RQ worker time to finish its job.

Each child runs in its own session, so a Ctrl-C in the terminal reaches the supervisor alone,
and the supervisor decides who stops when.

    python -m config.supervisor --procfile Procfile --concurrency worker=2
"""

import argparse
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# Workers stop first: each finishes its running job (RQ's warm shutdown) while everything the
# job may use is still up. The sweeper and the scheduler only put work into Redis for the
# workers, so they go next. The web server goes last, so the pages answer, and show the jobs
# finishing, until the end. devrun stops Redis after all of them. Types not listed stop last.
STOP_ORDER = ["worker", "sweeper", "scheduler", "web"]

# These get SIGTERM on their main PID alone, and SHUTDOWN_GRACE_SECONDS: an RQ worker then
# takes no new job and lets the running one finish; how its children (work horse, scheduler
# process) stop is its business, and jobs.worker.Worker has them die with it. Every other
# type gets SIGTERM on its whole process group, and STOP_SECONDS.
WARM_SHUTDOWN = {"worker"}
STOP_SECONDS = 10
# A second Ctrl-C sends SIGTERM again, RQ's cold shutdown (the worker kills its work horse and
# exits), and SIGKILL follows after this long: RQ ignores a second signal within one second.
COLD_SECONDS = 5

# A child that exits by itself is started again after FIRST_BACKOFF seconds; one that keeps
# dying within QUICK_EXIT_SECONDS of starting waits twice as long each time, up to MAX_BACKOFF.
FIRST_BACKOFF, MAX_BACKOFF, QUICK_EXIT_SECONDS = 1, 30, 5
POLL_SECONDS = 0.1

PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")  # honcho's
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def stop_rank(kind):
    return STOP_ORDER.index(kind) if kind in STOP_ORDER else len(STOP_ORDER)


def read_procfile(path):
    """{type: command} from the `name: command` lines, in file order."""
    matches = (PROCFILE_LINE.match(line) for line in Path(path).read_text().splitlines())
    return {match[1]: match[2] for match in matches if match}


def expand(command, env):
    """The command's argv, with $VAR and ${VAR} taken from env (empty when unset), as sh would.

    No shell runs the command, so the child's PID is the program's own: a SIGTERM sent to it
    reaches the RQ worker, not a shell in front of it.
    """

    def value(match):
        return env.get(match[1] or match[2], "")

    return [VARIABLE.sub(value, word) for word in shlex.split(command)]


class Output:
    """Prints `HH:MM:SS name | line` like honcho, one whole line at a time from any thread."""

    def __init__(self, names):
        self.width = max(len(name) for name in [*names, "system"])
        self.lock = threading.Lock()

    def line(self, name, text):
        # OSError: the terminal is gone (SIGHUP); stopping the children matters more.
        with self.lock, contextlib.suppress(OSError):
            print(f"{time.strftime('%H:%M:%S')} {name.ljust(self.width)} | {text}", flush=True)

    def system(self, text):
        self.line("system", text)


class Child:
    """One numbered instance of a Procfile type, e.g. worker.2, across its restarts."""

    def __init__(self, kind, number, argv, env, cwd, output):
        self.kind, self.name = kind, f"{kind}.{number}"
        self.argv, self.env, self.cwd, self.output = argv, env, cwd, output
        self.process = None
        self.started_at = self.restart_at = None
        self.backoff = 0

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self):
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session, hence its own process group: the terminal's Ctrl-C does not
            # reach it, and the group can be signalled as a whole.
            start_new_session=True,
        )
        self.started_at, self.restart_at = time.monotonic(), None
        self.output.system(f"{self.name} started (pid={self.process.pid})")
        threading.Thread(target=self._copy_output, args=(self.process,), daemon=True).start()

    def _copy_output(self, process):
        with process.stdout:
            for line in process.stdout:
                self.output.line(self.name, line.decode(errors="replace").rstrip("\r\n"))

    def exited(self):
        """Log how it ended and pick when to start it again."""
        now = time.monotonic()
        if self.backoff and now - self.started_at < QUICK_EXIT_SECONDS:
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        else:
            self.backoff = FIRST_BACKOFF
        self.restart_at = now + self.backoff
        self.output.system(f"{self.describe()}; restarting in {self.backoff} s")

    def describe(self):
        code = self.process.returncode
        if code < 0:
            return (
                f"{self.name} was killed by {signal.Signals(-code).name} (pid={self.process.pid})"
            )
        return f"{self.name} exited with code {code} (pid={self.process.pid})"

    def send(self, signum, *, group):
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
            if group:
                os.killpg(self.process.pid, signum)  # a session leader: its PID is its group's
            else:
                self.process.send_signal(signum)


class Supervisor:
    def __init__(self, procfile, concurrency=None, *, env=None, cwd=None):
        env = dict(os.environ if env is None else env)
        commands = read_procfile(procfile)
        instances = [
            (kind, number)
            for kind in commands
            for number in range(1, (concurrency or {}).get(kind, 1) + 1)
        ]
        self.output = Output(f"{kind}.{number}" for kind, number in instances)
        self.children = [
            Child(kind, number, expand(commands[kind], env), env, cwd, self.output)
            for kind, number in instances
        ]
        self.grace = float(os.environ.get("SHUTDOWN_GRACE_SECONDS", "30"))
        self.signals = []  # the stop signals received, in order

    def run(self):
        """Start every child, restart those that exit until SIGINT, SIGTERM or SIGHUP (the
        terminal closed), then stop them all in order and return 0."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            # Only note it: the main loop below acts on it, and may be printing just now.
            signal.signal(signum, lambda received, frame: self.signals.append(received))
        try:
            for child in self.children:
                child.start()
            while not self.signals:
                self._restart_exited()
                time.sleep(POLL_SECONDS)
            self.output.system(f"{signal.Signals(self.signals[0]).name} received")
        finally:
            # Also after an error here: children in their own sessions would outlive us.
            self.stop()
        return 0

    def _restart_exited(self):
        for child in self.children:
            if child.restart_at is not None:
                if time.monotonic() >= child.restart_at:
                    child.start()
            elif not child.running:
                child.exited()

    def stop(self):
        kinds = sorted({child.kind for child in self.children}, key=stop_rank)
        self.output.system(f"stopping {', then '.join(kinds)}")
        for kind in kinds:
            self._stop_kind(kind)
        self.output.system("all stopped")

    def _stop_kind(self, kind):
        children = [child for child in self.children if child.kind == kind and child.running]
        warm = kind in WARM_SHUTDOWN
        timeout = self.grace if warm else STOP_SECONDS
        if len(self.signals) > 1:
            timeout = min(timeout, COLD_SECONDS)
        target = "its PID" if warm else "its process group"
        for child in children:
            self.output.system(f"SIGTERM to {child.name} ({target}), {timeout:g} s to stop")
            child.send(signal.SIGTERM, group=not warm)

        deadline, seen = time.monotonic() + timeout, len(self.signals)
        while any(child.running for child in children) and time.monotonic() < deadline:
            if len(self.signals) > seen:  # Ctrl-C again: hurry up
                seen = len(self.signals)
                deadline = min(deadline, time.monotonic() + COLD_SECONDS)
                for child in children:
                    if child.running:
                        self.output.system(f"SIGTERM again to {child.name}")
                        child.send(signal.SIGTERM, group=not warm)
            time.sleep(POLL_SECONDS)

        for child in children:
            if child.running:
                self.output.system(f"{child.name} still running: SIGKILL to its group")
                child.send(signal.SIGKILL, group=True)
                child.process.wait()
            self.output.system(child.describe())


def parse_concurrency(text):
    """`worker=2,web=1` -> {"worker": 2, "web": 1}, like honcho's --concurrency."""
    pairs = (item.split("=") for item in text.split(",") if item)
    return {kind.strip(): int(count) for kind, count in pairs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", default="Procfile")
    parser.add_argument("--concurrency", default="", help="e.g. worker=2,web=1")
    args = parser.parse_args(argv)
    return Supervisor(args.procfile, parse_concurrency(args.concurrency)).run()


if __name__ == "__main__":
    sys.exit(main())
