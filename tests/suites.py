"""`make test`: the whole suite, on SQLite and on PostgreSQL, as parallel pytest runs.

    python -m tests.suites POSTGRES_URL [pytest arguments...]

With a PostgreSQL URL, three runs go side by side:
- `sqlite`: every test but the fault suite, on SQLite (the embedded default);
- `postgresql`: the same tests on PostgreSQL;
- `chaos`: the fault suite (-m chaos) on PostgreSQL, the production database.

Most of a run's time is spent waiting on the processes it starts (workers, Redis,
servers, a browser), so on two cores three runs take little more than the longest.
Each run is its own pytest session: its own Redis, servers and browser on free ports,
its own test database (config/settings.py names it after the process), and its own
screenshot folder, var/screenshots/<run>/. Each writes var/test-<run>.log, printed
whole when the run ends. An empty POSTGRES_URL runs the whole suite on SQLite alone.

Exits 0 when every run passed or collected no tests (pytest's exit code 5), 1 otherwise.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
NO_TESTS = 5


def runs(postgres_url):
    """(name, environment changes, pytest arguments) for each run."""
    if not postgres_url:
        return [("sqlite", {"DATABASE_URL": None}, [])]
    return [
        ("sqlite", {"DATABASE_URL": None}, ["-m", "not chaos"]),
        ("postgresql", {"DATABASE_URL": postgres_url}, ["-m", "not chaos"]),
        ("chaos", {"DATABASE_URL": postgres_url}, ["-m", "chaos"]),
    ]


def start(name, changes, args, extra):
    env = {**os.environ, "BROWSER_ARTIFACTS": str(VAR / "screenshots" / name)}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    log = (VAR / f"test-{name}.log").open("w")
    command = [sys.executable, "-m", "pytest", *args, *extra]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    print(f"{name}: {' '.join(command[1:])} (var/test-{name}.log)", flush=True)
    return process, log, time.monotonic()


def main(argv):
    postgres_url, *extra = argv
    VAR.mkdir(exist_ok=True)
    started = {
        name: start(name, changes, args, extra) for name, changes, args in runs(postgres_url)
    }
    failed = []
    while started:
        for name, (process, log, since) in list(started.items()):
            if process.poll() is None:
                continue
            log.close()
            del started[name]
            took = time.monotonic() - since
            print(f"\n===== {name}: exit {process.returncode} after {took:.0f} s =====", flush=True)
            sys.stdout.write((VAR / f"test-{name}.log").read_text(errors="replace"))
            sys.stdout.flush()
            if process.returncode not in (0, NO_TESTS):
                failed.append(name)
        time.sleep(0.5)
    print(f"\nFailed: {', '.join(failed)}" if failed else "\nEvery run passed.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
