"""Tracked-job throughput, side by side with Celery and plain RQ, in one run.

Run: .venv/bin/python bench/throughput.py [--jobs N] [--rounds R]
     (BENCH_QUICK=1: 500 jobs, one round; otherwise 3,000 jobs, three rounds)

For each variant this starts a private redis-server on loopback, enqueues N no-op jobs up
front, starts the workers, and times from the moment the workers are started until all N
jobs are done (polled every 0.2 s with one cheap query), then stops everything it started
by process group. Figures are ratios to Celery measured in the same round; the variants
run in turn, round after round, and the table gives medians.

- tracked-default: the app's own path. bench.tasks.noop is declared with @job and
  enqueued with .enqueue() (a JobRecord row, then the push to RQ); the workers are the
  Procfile's `worker:` line, started WORKERS times (default 2) as `make run` starts them,
  with the app's settings (SQLite under a temporary DATA_DIR, or --database-url).
  Done = that many rows with status "finished".
- celery-prefork: `celery worker -P prefork -c 2`, Redis broker and Redis result backend,
  results stored. Done = that many results in the backend's database.
- rq-best: plain RQ, untracked: a bare function, Queue.enqueue_many in a pipeline,
  result_ttl=0, `rq worker-pool --num-workers 2 --worker-class rq.worker.SimpleWorker`.
- rq-fork: plain `rq worker` (a fork per job) x 2: what the fork costs.
  Done (both RQ variants) = the workers' successful_job_count adds up to N.

To measure another way of running the app's workers, without editing this script:

    .venv/bin/python bench/throughput.py --only tracked-default \\
        --worker-cmd "python manage.py rqworker-pool high default low \\
        --num-workers 2 --worker-class jobs.worker.SimpleWorker" --processes 1

(also BENCH_WORKER_CMD, BENCH_PROCESSES). Such a run prints its table and leaves
bench/results/ alone unless --write is given; --database-url runs the tracked variant
against PostgreSQL (a throwaway database: it is migrated, and rows are added to it).
"""

import argparse
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
POLL_SECONDS = 0.2
STALL_SECONDS = 120  # no job done for this long (worker start-up included): give up
STOP_SECONDS = 20  # SIGTERM to a process group, then SIGKILL after this long
VARIANTS = ["tracked-default", "celery-prefork", "rq-best", "rq-fork"]

# Plain RQ's job: a bare function that imports nothing. It lives here, not in
# bench/tasks.py, because importing that module needs Django, and plain RQ has none.
PLAIN_FUNC = "bench.throughput.plain_noop"

sys.path.insert(0, str(ROOT))
from bench.common import Processes, wait_until  # noqa: E402


def plain_noop(i):
    return None


def wait_until_done(n, count_done, processes):
    """Poll until count_done() reaches n; see bench.common.wait_until."""
    return wait_until(
        n,
        count_done,
        processes,
        what="job done",
        stall_seconds=STALL_SECONDS,
        poll_seconds=POLL_SECONDS,
    )


def result(label, command, n, processes_count, enqueue_s, enqueue_how, drain):
    total, (first_at, first_done) = drain
    steady = (n - first_done) / (total - first_at) if total > first_at else float("nan")
    row = {
        "label": label,
        "command": command,
        "processes": processes_count,
        "enqueue_rate": n / enqueue_s,
        "enqueue_how": enqueue_how,
        "first_at": first_at,
        "total": total,
        "rate": n / total,
        "steady": steady,
    }
    print(
        f"  {label}: {row['rate']:,.1f} jobs/s ({n} in {total:.2f} s; first done after "
        f"{first_at:.2f} s, then {steady:,.1f} jobs/s); enqueue {row['enqueue_rate']:,.0f}/s"
    )
    return row


def worker_env(base_env, **extra):
    return {
        **base_env,
        "PATH": f"{VENV_BIN}{os.pathsep}{base_env.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


# --- the variants ------------------------------------------------------------------


def run_tracked(n, args, base_env, work):
    from bench.common import private_redis
    from config.supervisor import expand, read_procfile

    server = private_redis()
    processes = Processes(work)
    try:
        data_dir = Path(work) / "data"
        env = worker_env(
            base_env,
            DJANGO_SETTINGS_MODULE="config.settings",
            REDIS_URL=server.url,
            DATA_DIR=str(data_dir),
        )
        env.pop("DATABASE_URL", None)
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )

        # Django in this process too, with the same settings; quiet, or every enqueue
        # would print a line here.
        os.environ.update({**env, "LOG_LEVEL": "WARNING"})
        import django

        django.setup()
        from bench.tasks import noop
        from jobs.models import JobRecord

        finished = JobRecord.objects.filter(kind=noop.name, status=JobRecord.Status.FINISHED)
        baseline = finished.count()  # a --database-url database may hold earlier runs

        began = time.perf_counter()
        for i in range(n):
            noop.enqueue(i)  # autocommit: the row, then the push to RQ, per call
        enqueue_s = time.perf_counter() - began
        queued = JobRecord.objects.filter(kind=noop.name, status=JobRecord.Status.QUEUED).count()
        if queued < n:
            raise RuntimeError(f"only {queued} of {n} rows are queued")

        command = args.worker_cmd or read_procfile(ROOT / "Procfile")["worker"]
        argv = expand(command, env)
        for number in range(1, args.processes + 1):
            processes.start(f"worker.{number}", argv, env)
        drain = wait_until_done(n, lambda: finished.count() - baseline, processes)
        row = result(
            args.label or ("tracked-default" if not args.worker_cmd else "tracked-custom"),
            command,
            n,
            args.processes,
            enqueue_s,
            "one `noop.enqueue(i)` per job",
            drain,
        )
        failed = JobRecord.objects.filter(kind=noop.name, status=JobRecord.Status.FAILED)
        if failed.exists():
            raise RuntimeError(f"{failed.count()} tracked jobs failed")
        return row
    finally:
        processes.stop()
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


def run_celery(n, args, base_env, work):
    import redis

    from bench.common import private_redis

    server = private_redis()
    processes = Processes(work)
    results = []
    try:
        base = f"redis://127.0.0.1:{server.port}"
        celery_env = {"BENCH_CELERY_BROKER": f"{base}/0", "BENCH_CELERY_BACKEND": f"{base}/1"}
        os.environ.update(celery_env)
        from bench.celery_app import noop

        began = time.perf_counter()
        results += [noop.delay(i) for i in range(n)]
        enqueue_s = time.perf_counter() - began

        command = "celery -A bench.celery_app worker -P prefork -c 2"
        env = worker_env(base_env, **celery_env)
        processes.start("celery", [str(VENV_BIN / "celery"), *command.split()[1:]], env)
        backend = redis.Redis.from_url(f"{base}/1")
        drain = wait_until_done(n, backend.dbsize, processes)
        how = "one `noop.delay(i)` per job"
        row = result("celery-prefork", command, n, 1, enqueue_s, how, drain)
        if results[-1].status != "SUCCESS" or results[0].status != "SUCCESS":
            raise RuntimeError(f"Celery results: {results[0].status}, {results[-1].status}")
        return row
    finally:
        processes.stop()
        # Each AsyncResult unsubscribes from its result channel when it is collected:
        # now, while the Redis it subscribed on is still up.
        results.clear()
        gc.collect()
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


def run_plain_rq(n, args, base_env, work, *, label, commands):
    """Plain RQ, untracked; `commands` are argv lists after `rq`, one per process."""
    import redis
    from rq import Queue

    from bench.common import private_redis

    server = private_redis()
    processes = Processes(work)
    try:
        connection = redis.Redis.from_url(server.url)
        queue = Queue("default", connection=connection)
        began = time.perf_counter()
        for start in range(0, n, 1000):
            with connection.pipeline() as pipe:
                queue.enqueue_many(
                    [
                        Queue.prepare_data(PLAIN_FUNC, args=(i,), result_ttl=0)
                        for i in range(start, min(n, start + 1000))
                    ],
                    pipeline=pipe,
                )
                pipe.execute()
        enqueue_s = time.perf_counter() - began
        if queue.count != n:
            raise RuntimeError(f"{queue.count} of {n} jobs are queued")

        env = worker_env(base_env)
        for number, command in enumerate(commands, 1):
            argv = [str(VENV_BIN / "rq"), *command, "--url", server.url, "default"]
            processes.start(f"{label}.{number}", argv, env)

        def done():
            keys = connection.smembers("rq:workers")
            with connection.pipeline() as pipe:
                for key in keys:
                    pipe.hget(key, "successful_job_count")
                return sum(int(value or 0) for value in pipe.execute())

        drain = wait_until_done(n, done, processes)
        row = result(
            label,
            f"rq {' '.join(commands[0])} --url $URL default",
            n,
            len(commands),
            enqueue_s,
            "`Queue.enqueue_many` in pipelines of 1,000",
            drain,
        )
        if queue.count or queue.started_job_registry.count or queue.failed_job_registry.count:
            raise RuntimeError("plain RQ: jobs left in the queue, started or failed")
        return row
    finally:
        processes.stop()
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


RUNNERS = {
    "tracked-default": run_tracked,
    "celery-prefork": run_celery,
    "rq-best": lambda n, args, env, work: run_plain_rq(
        n,
        args,
        env,
        work,
        label="rq-best",
        commands=[
            ["worker-pool", "--num-workers", "2", "--worker-class", "rq.worker.SimpleWorker"]
        ],
    ),
    "rq-fork": lambda n, args, env, work: run_plain_rq(
        n, args, env, work, label="rq-fork", commands=[["worker"], ["worker"]]
    ),
}


# --- the report ----------------------------------------------------------------------


def median_rows(rounds):
    """One row per variant: the median of its rounds' figures, and of its ratio to
    Celery within each round (a round's variants ran minutes apart, under the same load)."""
    from bench.common import median

    rows = []
    for index, first in enumerate(rounds[0]):
        runs = [rows_of_round[index] for rows_of_round in rounds]
        row = dict(first)
        for key in ("enqueue_rate", "first_at", "total", "rate", "steady"):
            row[key] = median([run[key] for run in runs])
        row["rounds"] = len(runs)
        row["rates"] = [run["rate"] for run in runs]
        for key in ("rate", "steady"):
            ratios = []
            for rows_of_round in rounds:
                celery = next((r for r in rows_of_round if r["label"] == "celery-prefork"), None)
                if celery:
                    ratios.append(rows_of_round[index][key] / celery[key])
            row[f"{key}_ratio"] = median(ratios) if ratios else None
        rows.append(row)
    return rows


def report(rows, n, args):
    from bench.common import machine, svg_bars

    def ratio(row, key="rate"):
        value = row[f"{key}_ratio"]
        return f"{value:.2f}x" if value is not None else "n/a"

    rounds = rows[0]["rounds"]

    lines = [
        "## Throughput: tracked jobs, Celery and plain RQ",
        "",
        f"{n:,} no-op jobs are enqueued up front, then the workers start; the time runs from "
        "the start of the workers until the last job is done (polled every 0.2 s), so it "
        'includes their start-up, which the "first done" column shows. Each variant gets '
        "a private redis-server and two worker processes (or a pool of two). "
        f"{rounds} round{'s' if rounds > 1 else ''}, each running every variant in turn; "
        "each figure is the median over the rounds, and each ratio the median of the "
        f"ratios within a round. {machine()}; the ratios are the figures to read.",
        "",
        "| variant | jobs/s | vs Celery | each round, jobs/s | first done after "
        "| jobs/s after it | vs Celery | enqueue, jobs/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        each = ", ".join(f"{rate:,.0f}" for rate in row["rates"])
        lines.append(
            f"| {row['label']} | {row['rate']:,.1f} | {ratio(row)} | {each} "
            f"| {row['first_at']:.2f} s | {row['steady']:,.1f} | {ratio(row, 'steady')} "
            f"| {row['enqueue_rate']:,.0f} |"
        )
    lines += ["", "The commands (run from the repository root, `.venv/bin` first on PATH):", ""]
    for row in rows:
        times = f" (x{row['processes']})" if row["processes"] > 1 else ""
        if row["label"].startswith("tracked") and not args.worker_cmd:
            times = f" (x{row['processes']}, as `make run` starts it)"
        lines.append(
            f"- **{row['label']}**: `{row['command']}`{times}; enqueued with {row['enqueue_how']}."
        )
    tracked_db = "PostgreSQL (--database-url)" if args.database_url else "SQLite in WAL mode"
    lines += [
        "",
        "The tracked variant uses the app's settings as `make run` does (DEBUG and LOG_LEVEL "
        f"at their defaults, {tracked_db}); around the function, each job updates its row "
        "twice (started, which reads the row back in the same statement, and finished), "
        "and .enqueue() inserts the row, "
        "pushes the job to Redis and updates the row. Celery stores every result in its "
        "Redis backend; plain RQ keeps none (result_ttl=0). Each runs at its own default "
        "log level.",
    ]
    markdown = "\n".join(lines) + "\n"
    chart = svg_bars(
        f"No-op jobs per second, {n:,} jobs, 2 worker processes",
        [(row["label"], row["rate"]) for row in rows],
        unit="jobs/s",
    )
    return markdown, chart


def main(argv=None):
    from bench.common import QUICK

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500 if QUICK else 3000)
    parser.add_argument(
        "--only", default=",".join(VARIANTS), help=f"comma-separated, of {','.join(VARIANTS)}"
    )
    parser.add_argument(
        "--worker-cmd",
        default=os.environ.get("BENCH_WORKER_CMD", ""),
        help="the tracked variant's worker command, instead of the Procfile's worker: line",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=int(os.environ.get("BENCH_PROCESSES") or os.environ.get("WORKERS") or 2),
        help="how many times to start it (default: WORKERS, else 2, as config/devrun.py)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1 if QUICK else 3,
        help="run every variant this many times, interleaved, and report the medians",
    )
    parser.add_argument("--label", default="", help="the tracked variant's name in the table")
    parser.add_argument("--database-url", default="", help="run the tracked variant on this DB")
    parser.add_argument("--row-json", default="", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help="write bench/results/ anyway")
    parser.add_argument("--no-write", action="store_true", help="only print the table")
    args = parser.parse_args(argv)

    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    default_run = chosen == VARIANTS and not args.worker_cmd and not args.database_url
    write = not args.no_write and (default_run or args.write)

    # What the workers get: this environment as it was, before Django or Celery here
    # add to it.
    base_env = dict(os.environ)
    if args.row_json:  # one variant, once, for the parent below
        name = chosen[0]
        work = tempfile.mkdtemp(prefix=f"bench-throughput-{name}-")
        try:
            row = RUNNERS[name](args.jobs, args, base_env, work)
        except BaseException:
            print(f"  {name} failed; its logs are in {work}", file=sys.stderr)
            raise
        shutil.rmtree(work, ignore_errors=True)
        Path(args.row_json).write_text(json.dumps(row))
        return 0

    # Each variant runs in a process of its own: Django and Celery, once set up in a
    # process, keep the settings of the first private Redis they were given.
    passed_on = [f"--jobs={args.jobs}", f"--processes={args.processes}"]
    for option in ("worker_cmd", "label", "database_url"):
        if getattr(args, option):
            passed_on.append(f"--{option.replace('_', '-')}={getattr(args, option)}")
    rounds = []
    for number in range(1, args.rounds + 1):
        rows = []
        for name in chosen:
            print(f"round {number}/{args.rounds}, {name}: {args.jobs} jobs ...", flush=True)
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                command = [sys.executable, __file__, f"--only={name}", f"--row-json={out.name}"]
                subprocess.run([*command, *passed_on], env=base_env, check=True)
                rows.append(json.loads(Path(out.name).read_text()))
        rounds.append(rows)
    rows = median_rows(rounds)

    markdown, chart = report(rows, args.jobs, args)
    if write:
        from bench.common import write_section

        write_section("throughput", markdown, chart=chart)
    else:
        print(markdown)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # so that every `finally` stops what it started


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
